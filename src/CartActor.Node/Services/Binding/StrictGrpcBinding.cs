using Grpc.AspNetCore.Server.Model;

namespace CartActor.Node.Services.Binding;

/// <summary>Puts <see cref="StrictServiceMethodProvider{TService}"/> in place of grpc-dotnet's default binder.</summary>
internal static class StrictGrpcBinding
{
    /// <summary>Call after AddGrpc. Both providers together would map every method twice.</summary>
    public static IServiceCollection UseStrictRequestParsing(this IServiceCollection services)
    {
        var defaults = services
            .Where(d => d.ServiceType == typeof(IServiceMethodProvider<>)
                        && d.ImplementationType is { Name: "BinderServiceMethodProvider`1" })
            .ToList();
        if (defaults.Count == 0)
        {
            // A grpc-dotnet upgrade renamed it: fail here rather than serve every method twice.
            throw new InvalidOperationException("grpc-dotnet's BinderServiceMethodProvider registration was not found; call after AddGrpc");
        }

        foreach (var descriptor in defaults)
        {
            services.Remove(descriptor);
        }

        services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(StrictServiceMethodProvider<>));
        return services;
    }
}
