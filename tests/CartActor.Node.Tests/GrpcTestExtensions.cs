using CartActor.Tests.Shared;
using Grpc.Core;

namespace CartActor.Node.Tests;

/// <summary>Timeouts for gRPC calls, so that a hung call fails the test instead of stalling the run.</summary>
internal static class GrpcTestExtensions
{
    public static Task<T> WithTimeout<T>(this AsyncUnaryCall<T> call) => call.ResponseAsync.WithTimeout();

    /// <summary>A deadline the server also sees, for calls whose hang would be the bug under test.</summary>
    public static DateTime Deadline() => DateTime.UtcNow + TestTimeouts.Default;

    public static async Task<RpcException> AssertStatusAsync<T>(StatusCode expected, AsyncUnaryCall<T> call)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.WithTimeout());
        Assert.True(expected == ex.StatusCode, $"expected {expected}, got {ex.StatusCode}: {ex.Status.Detail}");
        return ex;
    }
}
