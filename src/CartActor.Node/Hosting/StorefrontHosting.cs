using CartActor.Node.Services.Storefront;
using Microsoft.AspNetCore.Routing.Constraints;
using Microsoft.OpenApi.Models;

namespace CartActor.Node.Hosting;

/// <summary>
/// The storefront API's web surface: the typed service on the gRPC port (h2c) and, for browsers and edge
/// functions that speak HTTP/1.1, as gRPC-Web and JSON/HTTP (transcoded from its google.api.http routes);
/// the OpenAPI document at /swagger/v1/swagger.json; CORS for the configured origins only (none by default).
/// Endpoints are not bound to a port: JSON and gRPC-Web are served on the HTTP port (HTTP/1.1) and, for
/// HTTP/2 clients, on the gRPC port too.
/// </summary>
internal static class StorefrontHosting
{
    public const string CorsPolicy = "storefront";

    public static void AddServices(IServiceCollection services, NodeOptions options)
    {
        // JSON transcoding's routes use the regex constraint, which the slim builder does not register.
        services.Configure<RouteOptions>(routes => routes.SetParameterPolicy<RegexInlineRouteConstraint>("regex"));
        services.AddGrpcSwagger();
        services.AddSwaggerGen(swagger =>
            swagger.SwaggerDoc("v1", new OpenApiInfo { Title = "CartActor storefront cart API", Version = "v1" }));
        if (options.CorsOrigins.Length > 0)
        {
            services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy => policy
                .WithOrigins(options.CorsOrigins)
                .AllowAnyMethod()
                .AllowAnyHeader()
                // What a browser client must read: the version, and gRPC-Web's status in headers.
                .WithExposedHeaders("ETag", "Grpc-Status", "Grpc-Message", "Grpc-Encoding", "Grpc-Accept-Encoding")));
        }
    }

    public static void UsePipeline(WebApplication app, NodeOptions options)
    {
        if (options.CorsOrigins.Length > 0)
        {
            app.UseCors();
        }

        app.UseGrpcWeb();
        app.UseSwagger();
        var service = app.MapGrpcService<CartApiService>().EnableGrpcWeb();
        if (options.CorsOrigins.Length > 0)
        {
            service.RequireCors(CorsPolicy);
        }
    }
}
