using System.Globalization;
using Grpc.Core;

namespace CartActor.Node.Tests.Conformance;

/// <summary>
/// The minimal endpoint is a conforming gRPC server: every case of <see cref="ConformanceCases"/> gets the same
/// answer from it as from Grpc.AspNetCore, and that answer carries the status the case expects.
/// </summary>
[Collection(ConformanceCollection.Name)]
[Trait("Category", "Conformance")]
public sealed class ConformanceTests(ConformancePair pair)
{
    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BothEndpointsGiveTheSameAnswer(string name)
    {
        var conformanceCase = ConformanceCases.Named(name);
        var id = ConformanceCases.CartIdOf(name);

        var stock = await conformanceCase.Run(pair.Stock, id);
        var minimal = await conformanceCase.Run(pair.Minimal, id);

        Assert.Equal(stock, minimal);
        Assert.Equal(conformanceCase.Expected, StatusOf(stock));
    }

    public static TheoryData<string> Cases() => ConformanceCases.Names();

    private static StatusCode StatusOf(string answer)
    {
        if (RawGrpc.StatusOf(answer) is { } code)
        {
            return (StatusCode)code;
        }

        var line = answer.Split('\n').First(l => l.StartsWith("status ", StringComparison.Ordinal));
        return Enum.Parse<StatusCode>(line["status ".Length..], ignoreCase: false);
    }
}
