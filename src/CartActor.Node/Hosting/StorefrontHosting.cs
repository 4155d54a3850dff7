using CartActor.Node.Services.Storefront;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing.Constraints;
using Microsoft.OpenApi.Models;

namespace CartActor.Node.Hosting;

/// <summary>
/// The storefront API's web surface: the typed service on the gRPC port (h2c) and, for browsers and edge
/// functions that speak HTTP/1.1, as gRPC-Web and JSON/HTTP (transcoded from its google.api.http routes);
/// the OpenAPI document at /swagger/v1/swagger.json; CORS for the configured origins only (none by default).
/// JSON is served on both ports (HTTP/1.1 on the HTTP port, h2c on the gRPC port); gRPC-Web and CORS on the
/// HTTP port.
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
        // Browsers reach the HTTP port over HTTP/1.1; the gRPC port is HTTP/2 only. The gRPC-Web and CORS
        // middlewares run for HTTP/1.x requests only, so ControlPlane's Apply and Get on the gRPC port pay for
        // neither (the bench gate counts their allocations to the byte).
        var cors = options.CorsOrigins.Length > 0;
        app.UseWhen(static context => !HttpProtocol.IsHttp2(context.Request.Protocol), browser =>
        {
            if (cors)
            {
                browser.UseCors();
            }

            browser.UseGrpcWeb();
        });
        // An endpoint, not a middleware: nothing runs for other requests.
        app.MapSwagger();
        var service = app.MapGrpcService<CartApiService>().EnableGrpcWeb();
        if (cors)
        {
            service.RequireCors(CorsPolicy);
        }
    }
}
