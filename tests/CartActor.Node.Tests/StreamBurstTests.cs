using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Http2;
using Google.Protobuf;
using Xunit.Abstractions;

namespace CartActor.Node.Tests;

/// <summary>
/// A burst of 800 Apply streams on a fresh HTTP/2 connection, sent before the client has read the node's
/// SETTINGS (so it does not yet know the stream limit): every stream gets either a complete gRPC answer or
/// RST_STREAM(REFUSED_STREAM), the connection is never aborted, a refused stream changed nothing and an answered
/// one changed its cart. Kestrel used to drop the whole connection ("output operations maximum queue size")
/// after the Applies had been applied, so no client heard what happened to its write.
/// </summary>
[Trait("Category", "Slow")]
public sealed class StreamBurstTests(ITestOutputHelper output)
{
    private const string ApplyPath = "/control_plane_messages.ControlPlane/Apply";

    /// <summary>
    /// The burst on the default limit, through the minimal endpoint (the default) and through the gRPC
    /// service, and a burst of exactly twice a lower limit (the bound README gives).
    /// </summary>
    [Theory]
    [InlineData(0, 800, true)]
    [InlineData(0, 800, false)]
    [InlineData(100, 200, true)]
    public async Task EveryStreamOfABurstOnAFreshConnectionIsAnsweredOrRefusedAndRefusedOnesChangedNothing(int maxStreamsPerConnection, int streams, bool minimalEndpoint)
    {
        string[] args = ["--minimal-endpoint", minimalEndpoint ? "true" : "false"];
        if (maxStreamsPerConnection > 0)
        {
            args = [.. args, "--Node:MaxStreamsPerConnection", maxStreamsPerConnection.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        }

        await using var node = await RunningNode.StartAsync(args);
        var ids = Enumerable.Range(0, streams).Select(_ => Carts.NewId()).ToArray();
        var messages = ids.Select(id => Carts.Apply(id, Carts.Item("sku-burst")).ToByteArray()).ToArray();

        await using var client = await RawHttp2Client.ConnectAsync(node.GrpcPort);
        var streamIds = await client.SendUnaryBurstAsync(ApplyPath, messages);
        var outcome = await client.ReadOutcomesAsync(streamIds, TimeSpan.FromSeconds(60));

        output.WriteLine(outcome.Describe());
        Assert.False(outcome.TimedOut, outcome.Describe());
        Assert.True(outcome.GoAwayErrorCode is null or 0, outcome.Describe());
        var answered = 0;
        for (var n = 0; n < streams; n++)
        {
            Assert.True(outcome.Streams.TryGetValue(streamIds[n], out var stream), $"stream {streamIds[n]} got nothing: {outcome.Describe()}");
            var state = Carts.State(await node.Client.GetAsync(new GetRequest { Id = ids[n] }, deadline: GrpcTestExtensions.Deadline()).WithTimeout());
            if (stream.ResetCode is { } code)
            {
                Assert.True(code == RawHttp2Client.RefusedStream, $"stream {streamIds[n]} reset with {code}, not REFUSED_STREAM: {outcome.Describe()}");
                Assert.Empty(state.Items);
                continue;
            }

            Assert.True(stream.GrpcStatus is not null, $"stream {streamIds[n]} has neither trailers nor a reset: {outcome.Describe()}");
            if (stream.GrpcStatus == 0)
            {
                answered++;
                Assert.Single(state.Items, i => i.Sku == "sku-burst");
            }
            else
            {
                Assert.Empty(state.Items);
            }
        }

        Assert.True(answered > 0, outcome.Describe());
    }
}
