using System.Net;
using System.Text.Json;
using CartActor.Tests.Shared;

namespace CartActor.Node.Tests;

/// <summary>The dashboard page is off unless configured, and read-only JSON behind it when on (the page itself is tested in a browser in the cluster suite).</summary>
public sealed class DashboardEndpointTests
{
    [Fact]
    public async Task TheDashboardIsOffByDefault()
    {
        await using var node = await RunningNode.StartAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await node.Http.GetAsync("/dashboard").WithTimeout()).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await node.Http.GetAsync("/dashboard/api/overview").WithTimeout()).StatusCode);
    }

    [Fact]
    public async Task WhenOnItServesThePageTheOverviewAndTheInspector()
    {
        await using var node = await RunningNode.StartAsync(["--dashboard", "true"]);
        var cart = Carts.NewId();
        await node.Client.ApplyAsync(Carts.Apply(cart, Carts.Item("sku-a"))).WithTimeout();

        var page = await node.Http.GetAsync("/dashboard").WithTimeout();
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        using var overview = JsonDocument.Parse(await node.Http.GetStringAsync("/dashboard/api/overview").WithTimeout());
        var member = Assert.Single(overview.RootElement.GetProperty("members").EnumerateArray());
        Assert.Equal(node.AdvertisedHost.ToLowerInvariant(), member.GetProperty("host").GetString());
        Assert.Equal(1.0, member.GetProperty("share").GetDouble());
        Assert.Equal("ready", overview.RootElement.GetProperty("readiness").GetString());
        Assert.Equal(1, overview.RootElement.GetProperty("activeCarts").GetInt64());

        using var found = JsonDocument.Parse(await node.Http.GetStringAsync($"/dashboard/api/carts/{cart}").WithTimeout());
        Assert.Equal(node.AdvertisedHost.ToLowerInvariant(), found.RootElement.GetProperty("owner").GetString());
        Assert.Equal("sku-a", found.RootElement.GetProperty("state").GetProperty("items")[0].GetProperty("sku").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await node.Http.GetAsync("/dashboard/api/carts/not-a-cart").WithTimeout()).StatusCode);
    }
}
