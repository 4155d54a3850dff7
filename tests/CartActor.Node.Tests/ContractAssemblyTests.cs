using System.Reflection;
using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Node.Hosting;
using CartActor.Persistence.RocksDb;
using Google.Protobuf;
using Grpc.Core;

namespace CartActor.Node.Tests;

/// <summary>
/// The generated contract lives in one assembly, CartActor.Contracts, which a .NET caller references (through
/// CartActor.Client or on its own); the runtime assemblies generate nothing, so they hand out no client classes and
/// no second copy of the messages.
/// </summary>
public sealed class ContractAssemblyTests
{
    [Fact]
    public void TheContractTypes_ComeFromCartActorContracts()
    {
        Type[] contract = [typeof(CartState), typeof(ControlPlane.ApplyRequest), typeof(ControlPlane.ControlPlane.ControlPlaneClient),
            typeof(ControlPlane.ControlPlane.ControlPlaneBase), typeof(CartService.CartServiceClient), typeof(CartService.CartServiceBase)];

        Assert.All(contract, t => Assert.Equal("CartActor.Contracts", t.Assembly.GetName().Name));
    }

    [Fact]
    public void TheRuntimeAssemblies_DefineNoMessagesClientStubsOrServiceBases()
    {
        Assembly[] runtime = [typeof(CartRuntime).Assembly, typeof(RocksDbCartStore).Assembly, typeof(NodeHost).Assembly];

        foreach (var assembly in runtime)
        {
            var generated = assembly.GetTypes()
                .Where(t => typeof(ClientBase).IsAssignableFrom(t)
                            || typeof(IMessage).IsAssignableFrom(t)
                            || t.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is not null)
                .Select(t => t.FullName)
                .ToArray();

            Assert.True(generated.Length == 0, $"{assembly.GetName().Name} defines contract types: {string.Join(", ", generated)}");
        }
    }
}
