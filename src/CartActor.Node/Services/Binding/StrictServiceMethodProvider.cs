using System.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace CartActor.Node.Services.Binding;

/// <summary>
/// Discovers the methods of every mapped gRPC service, as grpc-dotnet's own binder does (the generated static
/// BindService named by <see cref="BindServiceMethodAttribute"/>), but registers each method with a request
/// marshaller from <see cref="StrictRequestMarshaller"/>. Registered in place of the default provider
/// (<see cref="StrictGrpcBinding"/>), so every service mapped now or later gets it without code of its own.
/// Runs once per service at start-up; the reflection here never runs per call.
/// </summary>
internal sealed class StrictServiceMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var bind = FindBindMethod(typeof(TService));
        if (bind is null)
        {
            return;
        }

        // The generated BindService accepts a null implementation: it then passes null handlers, and the
        // binder builds open delegates over TService instead (the service instance comes per call).
        bind.Invoke(null, [new Binder(context), null]);
    }

    private static MethodInfo? FindBindMethod(Type serviceType)
    {
        var attribute = serviceType.GetCustomAttribute<BindServiceMethodAttribute>(inherit: true);
        if (attribute is null)
        {
            return null;
        }

        return attribute.BindType
                   .GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                   .FirstOrDefault(m => m.Name == attribute.BindMethodName
                                        && m.GetParameters() is [{ ParameterType: var binder }, _]
                                        && binder == typeof(ServiceBinderBase))
               ?? throw new InvalidOperationException(
                   $"{serviceType.Name}: {attribute.BindType.Name}.{attribute.BindMethodName}(ServiceBinderBase, ...) not found");
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Invoker<Grpc.AspNetCore.Server.Model.UnaryServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(TRequest), typeof(ServerCallContext));
            context.AddUnaryMethod(StrictRequestMarshaller.Wrap(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Invoker<Grpc.AspNetCore.Server.Model.ServerStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddServerStreamingMethod(StrictRequestMarshaller.Wrap(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Invoker<Grpc.AspNetCore.Server.Model.ClientStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext));
            context.AddClientStreamingMethod(StrictRequestMarshaller.Wrap(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Invoker<Grpc.AspNetCore.Server.Model.DuplexStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddDuplexStreamingMethod(StrictRequestMarshaller.Wrap(method), metadata, invoker);
        }

        /// <summary>
        /// An open-instance delegate over the service's method of that name (its override, if it has one), and
        /// the endpoint metadata grpc-dotnet would give it: the attributes of the service type and of the method.
        /// </summary>
        private static (TDelegate Invoker, List<object> Metadata) Invoker<TDelegate>(string name, params Type[] parameters)
            where TDelegate : Delegate
        {
            var method = typeof(TService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters)
                         ?? throw new InvalidOperationException($"{typeof(TService).Name} has no method {name}");
            var metadata = new List<object>(typeof(TService).GetCustomAttributes(inherit: true));
            metadata.AddRange(method.GetCustomAttributes(inherit: true));
            return ((TDelegate)Delegate.CreateDelegate(typeof(TDelegate), method), metadata);
        }
    }
}
