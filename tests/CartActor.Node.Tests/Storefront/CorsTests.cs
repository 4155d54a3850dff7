using System.Net;
using CartActor.Tests.Shared;

namespace CartActor.Node.Tests.Storefront;

/// <summary>CORS: only the origins named by Node:CorsOrigins (--Node:CorsOrigins a,b) are allowed.</summary>
public sealed class CorsTests
{
    [Fact]
    public async Task AConfiguredOrigin_IsAllowed_AnotherIsNot()
    {
        await using var node = await RunningNode.StartAsync(["--Node:CorsOrigins", "https://shop.example,https://m.shop.example"]);

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/carts/5/items");
        preflight.Headers.Add("Origin", "https://m.shop.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type,idempotency-key,if-match");
        using var allowed = await node.Http.SendAsync(preflight).WithTimeout();
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://m.shop.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/carts/5");
        get.Headers.Add("Origin", "https://evil.example");
        using var other = await node.Http.SendAsync(get).WithTimeout();
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
