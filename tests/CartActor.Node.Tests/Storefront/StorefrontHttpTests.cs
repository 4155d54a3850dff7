using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CartActor.Cart.V1;
using CartActor.Tests.Shared;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;

namespace CartActor.Node.Tests.Storefront;

/// <summary>
/// The storefront API for browsers and edge functions, on the node's HTTP/1.1 port: JSON/HTTP with a plain
/// HttpClient (status codes, ETag / If-Match, Idempotency-Key), gRPC-Web, and the OpenAPI document.
/// </summary>
[Collection(SharedNodeCollection.Name)]
public sealed class StorefrontHttpTests(NodeFixture fixture)
{
    private HttpClient Http => fixture.Node.Http;

    [Fact]
    public async Task Json_TheStorefrontFlow_WithStatusCodesAndETags()
    {
        var id = Carts.NewId();
        using (var empty = await Http.GetAsync($"/v1/carts/{id}").WithTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
            Assert.Equal("\"0\"", empty.Headers.ETag?.Tag);
        }

        var cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"coffee","name":"Coffee","quantity":5,"unitPrice":"4990","taxRate":2500}""");
        cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"mug","quantity":1,"unitPrice":14825,"taxRate":2500}""");
        cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"filter","quantity":2,"unitPrice":500,"taxRate":1200}""");
        cart = await SendAsync(HttpMethod.Patch, $"/v1/carts/{id}/items/3", """{"quantity":1}""");
        cart = await SendAsync(HttpMethod.Delete, $"/v1/carts/{id}/items/3");
        cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/deliveries", """{"provider":"postnord","price":4900,"taxRate":2500}""");
        cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/vouchers", """{"code":"WELCOME","amount":5000}""");
        Assert.Equal(7_935, Number(cart.GetProperty("totalTax")));
        Assert.Equal(2500, Number(Assert.Single(cart.GetProperty("taxLines").EnumerateArray()).GetProperty("rate")));
        cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/checkout", "{}");
        Assert.Equal("CHECKOUT", cart.GetProperty("status").GetString());
        cart = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/order", """{"orderReference":"ORDER-7"}""");
        Assert.Equal("ORDERED", cart.GetProperty("status").GetString());
        Assert.Equal(9, Number(cart.GetProperty("version")));

        using var read = await Http.GetAsync($"/v1/carts/{id}").WithTimeout();
        Assert.Equal("\"9\"", read.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Json_IfMatch_Mismatch_Is412AndChangesNothing_Match_Applies()
    {
        var id = Carts.NewId();
        await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"a","quantity":1,"unitPrice":100}""");

        // RFC 9110 13.1.1: a failed If-Match is 412 Precondition Failed, on a single mutation and on a batch.
        using (var stale = Request(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"b","quantity":1,"unitPrice":100}"""))
        {
            stale.Headers.IfMatch.Add(new EntityTagHeaderValue("\"0\""));
            using var response = await Http.SendAsync(stale).WithTimeout();
            Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
            Assert.Contains("version", await response.Content.ReadAsStringAsync().WithTimeout(), StringComparison.Ordinal);
        }

        using (var staleBatch = Request(HttpMethod.Post, $"/v1/carts/{id}/mutations", """{"mutations":[{"addItem":{"sku":"c","quantity":1,"unitPrice":100}}]}"""))
        {
            staleBatch.Headers.IfMatch.Add(new EntityTagHeaderValue("\"7\""));
            using var response = await Http.SendAsync(staleBatch).WithTimeout();
            Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        }

        // expected_version without If-Match is no HTTP precondition: ABORTED stays 409 (re-read and decide).
        using (var staleField = Request(HttpMethod.Post, $"/v1/carts/{id}/items?expectedVersion=0", """{"sku":"b","quantity":1,"unitPrice":100}"""))
        {
            using var response = await Http.SendAsync(staleField).WithTimeout();
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        }

        using (var current = Request(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"b","quantity":1,"unitPrice":100}"""))
        {
            current.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\""));
            using var response = await Http.SendAsync(current).WithTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("\"2\"", response.Headers.ETag?.Tag);
        }

        using var malformed = Request(HttpMethod.Delete, $"/v1/carts/{id}/items/1");
        malformed.Headers.TryAddWithoutValidation("If-Match", "yesterday");
        using var refused = await Http.SendAsync(malformed).WithTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        using var final = await Http.GetAsync($"/v1/carts/{id}").WithTimeout();
        Assert.Equal("\"2\"", final.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Json_IfNoneMatch_TheCurrentVersion_Is304WithoutABody_AnOlderOne_Is200()
    {
        var id = Carts.NewId();
        await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"a","quantity":1,"unitPrice":100}""");

        using (var current = new HttpRequestMessage(HttpMethod.Get, $"/v1/carts/{id}"))
        {
            current.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"1\""));
            using var response = await Http.SendAsync(current).WithTimeout();
            Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
            Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync().WithTimeout());
        }

        await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"b","quantity":1,"unitPrice":100}""");
        using (var older = new HttpRequestMessage(HttpMethod.Get, $"/v1/carts/{id}"))
        {
            older.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"1\""));
            using var response = await Http.SendAsync(older).WithTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("\"2\"", response.Headers.ETag?.Tag);
            var cart = JsonDocument.Parse(await response.Content.ReadAsStringAsync().WithTimeout()).RootElement;
            Assert.Equal(2, cart.GetProperty("items").GetArrayLength());
        }

        // The connection still serves the next request after a 304.
        using var next = await Http.GetAsync($"/v1/carts/{id}").WithTimeout();
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Json_IdempotencyKey_AppliesOnce_ReuseWithAnotherBody_Is400()
    {
        var id = Carts.NewId();
        for (var i = 0; i < 2; i++)
        {
            using var add = Request(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"a","quantity":2,"unitPrice":100}""");
            add.Headers.Add("Idempotency-Key", "json-key-1");
            using var response = await Http.SendAsync(add).WithTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        }

        using var other = Request(HttpMethod.Post, $"/v1/carts/{id}/items", """{"sku":"b","quantity":1,"unitPrice":100}""");
        other.Headers.Add("Idempotency-Key", "json-key-1");
        using var reused = await Http.SendAsync(other).WithTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, reused.StatusCode);
        Assert.Contains("json-key-1", await reused.Content.ReadAsStringAsync().WithTimeout(), StringComparison.Ordinal);

        var cart = await GetJsonAsync($"/v1/carts/{id}");
        Assert.Equal(2, cart.GetProperty("items")[0].GetProperty("quantity").GetInt32());
    }

    [Fact]
    public async Task Json_StatusCodes_ForRefusalsAndMalformedRequests()
    {
        var id = Carts.NewId();
        using var refused = await Http.SendAsync(Request(HttpMethod.Delete, $"/v1/carts/{id}/items/5")).WithTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode); // FAILED_PRECONDITION
        Assert.Contains("no item with id 5", await refused.Content.ReadAsStringAsync().WithTimeout(), StringComparison.Ordinal);

        using var zero = await Http.GetAsync("/v1/carts/0").WithTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode); // INVALID_ARGUMENT

        using var garbage = await Http.SendAsync(Request(HttpMethod.Post, $"/v1/carts/{id}/items", "{not json")).WithTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);

        // What `curl -d` sends without a Content-Type header (README): a form, not JSON.
        using var form = new HttpRequestMessage(HttpMethod.Post, $"/v1/carts/{id}/items")
        {
            Content = new StringContent("""{"sku":"a","quantity":1,"unitPrice":100}""", Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        using var refusedForm = await Http.SendAsync(form).WithTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, refusedForm.StatusCode);
        Assert.Contains("not a known JSON content type", await refusedForm.Content.ReadAsStringAsync().WithTimeout(), StringComparison.Ordinal);
        using var untouched = await Http.GetAsync($"/v1/carts/{id}").WithTimeout();
        Assert.Equal("\"0\"", untouched.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Json_Mutate_ReturnsTheCartAndOneResultPerMutation()
    {
        var id = Carts.NewId();
        var reply = await SendAsync(HttpMethod.Post, $"/v1/carts/{id}/mutations", """
            {"mutations": [
              {"addItem": {"sku": "a", "quantity": 1, "unitPrice": 100}},
              {"setCartAttributes": {"attributes": {"customer": "c-1"}}},
              {"removeVoucher": {"voucherId": 3}}
            ]}
            """);

        Assert.Equal("c-1", reply.GetProperty("cart").GetProperty("attributes").GetProperty("customer").GetString());
        var results = reply.GetProperty("results");
        Assert.Equal(3, results.GetArrayLength());
        Assert.False(results[0].TryGetProperty("error", out _));
        Assert.Contains("no voucher with id 3", results[2].GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcWeb_OverHttp11_ServesTheTypedService()
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.Node.HttpPort}", new GrpcChannelOptions
        {
            HttpHandler = new GrpcWebHandler(GrpcWebMode.GrpcWebText, new HttpClientHandler()),
            HttpVersion = HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        var client = new CartService.CartServiceClient(channel);
        var id = Carts.NewId();

        var state = await client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("web", 2) }).WithTimeout();
        var read = await client.GetCartAsync(new GetCartRequest { CartId = id }).WithTimeout();

        Assert.Equal(2, Assert.Single(state.Items).Quantity);
        Assert.Equal(state, read);
    }

    [Fact]
    public async Task TheOpenApiDocument_ListsEveryRoute()
    {
        var document = await GetJsonAsync("/swagger/v1/swagger.json");
        var paths = document.GetProperty("paths");
        (string Path, string Method)[] expected =
        [
            ("/v1/carts/{cartId}", "get"),
            ("/v1/carts/{cartId}/items", "post"),
            ("/v1/carts/{cartId}/items", "delete"),
            ("/v1/carts/{cartId}/items/{itemId}", "patch"),
            ("/v1/carts/{cartId}/items/{itemId}", "delete"),
            ("/v1/carts/{cartId}/deliveries", "post"),
            ("/v1/carts/{cartId}/deliveries/{deliveryId}", "delete"),
            ("/v1/carts/{cartId}/vouchers", "post"),
            ("/v1/carts/{cartId}/vouchers/{voucherId}", "delete"),
            ("/v1/carts/{cartId}/checkout", "post"),
            ("/v1/carts/{cartId}/order", "post"),
            ("/v1/carts/{cartId}/mutations", "post"),
            ("/v1/carts/{targetId}/merge", "post"),
            ("/v1/carts/{cartId}/watch", "get"),
        ];
        foreach (var (path, method) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var operations), $"{path} is missing from the OpenAPI document; it has {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");
            Assert.True(operations.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} is missing");
        }
    }

    [Fact]
    public async Task WithoutConfiguredOrigins_NoCorsHeadersAreSent()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/carts/{Carts.NewId()}");
        request.Headers.Add("Origin", "https://shop.example");
        using var response = await Http.SendAsync(request).WithTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    /// <summary>Protobuf JSON writes 64-bit integers as strings, 32-bit ones as numbers; either reads here.</summary>
    private static long Number(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : value.GetInt64();

    private static HttpRequestMessage Request(HttpMethod method, string path, string? json = null) =>
        new(method, path) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = Request(method, path, json);
        using var response = await Http.SendAsync(request).WithTimeout();
        var body = await response.Content.ReadAsStringAsync().WithTimeout();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private async Task<JsonElement> GetJsonAsync(string path) => await SendAsync(HttpMethod.Get, path);
}
