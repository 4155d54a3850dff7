using CartActor.Tests.Shared;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Reflection.V1Alpha;

namespace CartActor.Node.Tests;

/// <summary>Server reflection, as grpcurl and ghz use it: no proto files on the client.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class ReflectionTests(NodeFixture fixture)
{
    private RunningNode Node => fixture.Node;

    [Fact]
    public async Task ListsTheControlPlaneAndTheHealthService()
    {
        var response = await AskAsync(new ServerReflectionRequest { ListServices = string.Empty });

        var services = response.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("control_plane_messages.ControlPlane", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task ResolvesTheControlPlaneServiceToItsFileAndDependencies()
    {
        var files = await FilesContainingAsync("control_plane_messages.ControlPlane");

        var controlPlane = Assert.Single(files, f => f.Name == "control_plane.proto");
        var service = Assert.Single(controlPlane.Service);
        Assert.Equal("ControlPlane", service.Name);
        Assert.Equal(
            ["AnnounceExpiry", "AnnounceOwnership", "Apply", "Closing", "Get", "GetLocalActorIds", "Negotiate", "Ping"],
            service.Method.Select(m => m.Name).Order(StringComparer.Ordinal));
        Assert.Contains("cart.proto", controlPlane.Dependency);
    }

    [Theory]
    [InlineData("cart_messages.AddItem")]
    [InlineData("cart_messages.CartState")]
    [InlineData("cart_messages.CompleteOrder")]
    public async Task ResolvesEveryCartMessageByName(string symbol)
    {
        var files = await FilesContainingAsync(symbol);

        var cart = Assert.Single(files, f => f.Name == "cart.proto");
        Assert.Equal("cart_messages", cart.Package);
        Assert.Contains(symbol["cart_messages.".Length..], cart.MessageType.Select(m => m.Name));
        // grpcurl prints "@type" payloads only if every cart message is there: state, line, and each mutation.
        var names = cart.MessageType.Select(m => m.Name).ToHashSet();
        Assert.Superset(
            new HashSet<string> { "CartState", "CartItem", "AddItem", "RemoveItem", "ChangeQuantity", "ClearCart", "SetDelivery", "RemoveDelivery", "AddVoucher", "RemoveVoucher", "BeginCheckout", "CompleteOrder" },
            names);
    }

    [Fact]
    public async Task AnUnknownSymbolIsNotFound()
    {
        var response = await AskAsync(new ServerReflectionRequest { FileContainingSymbol = "cart_messages.NoSuchThing" });

        Assert.Equal(ServerReflectionResponse.MessageResponseOneofCase.ErrorResponse, response.MessageResponseCase);
        Assert.Equal((int)Grpc.Core.StatusCode.NotFound, response.ErrorResponse.ErrorCode);
    }

    private async Task<List<FileDescriptorProto>> FilesContainingAsync(string symbol)
    {
        var response = await AskAsync(new ServerReflectionRequest { FileContainingSymbol = symbol });
        Assert.True(
            response.MessageResponseCase == ServerReflectionResponse.MessageResponseOneofCase.FileDescriptorResponse,
            $"{symbol}: {response.ErrorResponse?.ErrorMessage}");
        return response.FileDescriptorResponse.FileDescriptorProto.Select(FileDescriptorProto.Parser.ParseFrom).ToList();
    }

    private async Task<ServerReflectionResponse> AskAsync(ServerReflectionRequest request)
    {
        var client = new ServerReflection.ServerReflectionClient(Node.Channel);
        using var call = client.ServerReflectionInfo(deadline: GrpcTestExtensions.Deadline());
        await call.RequestStream.WriteAsync(request).WithTimeout();
        await call.RequestStream.CompleteAsync().WithTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout());
        return call.ResponseStream.Current;
    }
}
