using System.Diagnostics;
using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Ownership;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace CartActor.Node.Tests;

/// <summary>
/// Traces as an operator sees them in a tracing backend: one trace for a forwarded Apply, holding the entry
/// node's span, the owner's span and the owner's store write; one for a relayed watch; a store load under the
/// call that activated the cart; and no tracer at all unless asked for.
/// </summary>
[Trait("Category", "Redis")]
public sealed class TracingTests
{
    [Fact]
    public async Task AForwardedApply_IsOneTrace_AcrossEntryNodeOwnerAndStoreWrite()
    {
        using var redis = new RedisServerFixture();
        var firstSpans = new List<Activity>();
        var secondSpans = new List<Activity>();
        var (first, second) = await TwoNodes.StartAsync(
            Traced(redis, firstSpans),
            Traced(redis, secondSpans),
            customizeFirst: b => InMemory(b, firstSpans),
            customizeSecond: b => InMemory(b, secondSpans));
        await using var _ = first;
        await using var __ = second;
        await TwoNodes.WaitForPairAsync(first, second, TimeSpan.FromSeconds(20));

        var id = OwnedBy(first, second);
        var applied = await first.Client.ApplyAsync(Carts.Apply(id, Carts.Item("traced")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal("traced", Assert.Single(Carts.State(applied).Items).Sku);

        // Both nodes' tracer providers hear every span of this process: the union, once per span.
        var cartId = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var entry = await WaitForSpanAsync(firstSpans, secondSpans, s => s.DisplayName == "Apply" && Tag(s, "cartactor.node") == first.AdvertisedHost && Tag(s, "cart.id") == cartId);
        Assert.Equal("forwarded", Tag(entry, "cart.route"));
        Assert.Equal(second.AdvertisedHost, Tag(entry, "cart.owner"));
        Assert.Equal(ActivityStatusCode.Unset, entry.Status);

        // The owner's span that served it (a forward refused while the two views settled is its own span, a sibling).
        var owner = await WaitForSpanAsync(firstSpans, secondSpans, s => s.DisplayName == "Apply" && Tag(s, "cartactor.node") == second.AdvertisedHost
                                                                           && Tag(s, "cart.id") == cartId && s.Status == ActivityStatusCode.Unset);
        Assert.Equal(entry.TraceId, owner.TraceId);
        Assert.Equal("local", Tag(owner, "cart.route"));
        Assert.Equal(first.AdvertisedHost, Tag(owner, "cartactor.forwarded_by"));

        // Its parent is the entry node's forward, a child of the entry node's span.
        var forward = await WaitForSpanAsync(firstSpans, secondSpans, s => s.SpanId == owner.ParentSpanId);
        Assert.Equal("forward Apply", forward.DisplayName);
        Assert.Equal(entry.SpanId, forward.ParentSpanId);
        Assert.Equal(second.AdvertisedHost, Tag(forward, "server.address"));

        var write = await WaitForSpanAsync(firstSpans, secondSpans, s => s.DisplayName == "cart.store.write" && s.ParentSpanId == owner.SpanId);
        Assert.Equal(entry.TraceId, write.TraceId);
        Assert.Equal("redis", Tag(write, "db.system"));
        Assert.Equal(CartActor.Diagnostics.CartTracing.SourceName, write.Source.Name);
    }

    [Fact]
    public async Task ARelayedWatch_IsOneTrace_AndEachWatchSpanCountsTheStatesSent_AndWhyItEnded()
    {
        using var redis = new RedisServerFixture();
        var firstSpans = new List<Activity>();
        var secondSpans = new List<Activity>();
        var (first, second) = await TwoNodes.StartAsync(
            Traced(redis, firstSpans),
            Traced(redis, secondSpans),
            customizeFirst: b => InMemory(b, firstSpans),
            customizeSecond: b => InMemory(b, secondSpans));
        await using var _ = first;
        await using var __ = second;
        await TwoNodes.WaitForPairAsync(first, second, TimeSpan.FromSeconds(20));
        var id = OwnedBy(first, second);
        var viaFirst = new CartService.CartServiceClient(first.Channel);
        await viaFirst.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("watched") }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();

        // Watched through the entry node, which relays the owner's stream: two states, then the client leaves.
        var watch = viaFirst.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());
        Assert.Equal(1UL, (await NextAsync(watch)).Version);
        await viaFirst.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("more") }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal(2UL, (await NextAsync(watch)).Version);
        watch.Dispose();

        var cartId = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var entry = await WaitForSpanAsync(firstSpans, secondSpans, s => s.DisplayName == "WatchCart" && Tag(s, "cartactor.node") == first.AdvertisedHost && Tag(s, "cart.id") == cartId);
        Assert.Equal("forwarded", Tag(entry, "cart.route"));
        Assert.Equal(second.AdvertisedHost, Tag(entry, "cart.owner"));
        Assert.Equal("2", Tag(entry, "cartactor.watch.events_sent"));
        Assert.Equal("client_left", Tag(entry, "cartactor.watch.end_reason"));

        var owner = await WaitForSpanAsync(firstSpans, secondSpans, s => s.DisplayName == "WatchCart" && Tag(s, "cartactor.node") == second.AdvertisedHost && Tag(s, "cart.id") == cartId);
        Assert.Equal(entry.TraceId, owner.TraceId);
        Assert.Equal("local", Tag(owner, "cart.route"));
        Assert.Equal("2", Tag(owner, "cartactor.watch.events_sent"));
        Assert.Equal("client_left", Tag(owner, "cartactor.watch.end_reason"));
        var relay = await WaitForSpanAsync(firstSpans, secondSpans, s => s.SpanId == owner.ParentSpanId);
        Assert.Equal("forward WatchCart", relay.DisplayName);
        Assert.Equal(entry.SpanId, relay.ParentSpanId);
    }

    [Fact]
    public async Task ACartActivatedFromTheStore_HasALoadSpan_UnderTheCallThatAskedForIt_MissThenHit()
    {
        using var redis = new RedisServerFixture();
        string[] traced = ["--store", redis.ConnectionString, "--traces", "otlp"];
        var id = Carts.NewId();
        var cartId = id.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // A new cart: the Apply finds nothing in the store (a miss) and creates it.
        var writerSpans = new List<Activity>();
        await using (var writer = await RunningNode.StartAsync(traced, b => InMemory(b, writerSpans)))
        {
            await writer.Client.ApplyAsync(Carts.Apply(id, Carts.Item("kept")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
            var apply = await WaitForSpanAsync(writerSpans, [], s => s.DisplayName == "Apply" && Tag(s, "cart.id") == cartId);
            var miss = await WaitForSpanAsync(writerSpans, [], s => s.DisplayName == "cart.store.load" && s.ParentSpanId == apply.SpanId);
            Assert.Equal(apply.TraceId, miss.TraceId);
            Assert.Equal(false, miss.GetTagItem("cartactor.store.hit"));
            Assert.Equal("redis", Tag(miss, "cartactor.store"));
            Assert.Equal(cartId, Tag(miss, "cart.id"));
            Assert.Equal(CartActor.Diagnostics.CartTracing.SourceName, miss.Source.Name);
        }

        // A fresh node on the same store: the Get activates the cart from its record (a hit).
        var readerSpans = new List<Activity>();
        await using var reader = await RunningNode.StartAsync(traced, b => InMemory(b, readerSpans));
        var got = await reader.Client.GetAsync(new GetRequest { Id = id }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal("kept", Assert.Single(Carts.State(got).Items).Sku);

        var get = await WaitForSpanAsync(readerSpans, [], s => s.DisplayName == "Get" && Tag(s, "cart.id") == cartId);
        var hit = await WaitForSpanAsync(readerSpans, [], s => s.DisplayName == "cart.store.load" && s.ParentSpanId == get.SpanId);
        Assert.Equal(get.TraceId, hit.TraceId);
        Assert.Equal(true, hit.GetTagItem("cartactor.store.hit"));
        Assert.Equal("redis", Tag(hit, "db.system"));
        Assert.Equal(ActivityStatusCode.Unset, hit.Status);
    }

    [Fact]
    public async Task TracesAreOffByDefault_NoTracerIsRegistered()
    {
        await using var node = await RunningNode.StartAsync(["--store", "memory"]);

        Assert.Null(node.Services.GetService<TracerProvider>());
    }

    [Fact]
    public void AnUnknownTracesValueIsRefusedNamingTheSetting()
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", "--traces", "zipkin"]));

        Assert.Contains("Node:Traces (--traces)", ex.Message, StringComparison.Ordinal);
    }

    private static string[] Traced(RedisServerFixture redis, List<Activity> _) => ["--store", redis.ConnectionString, "--traces", "otlp"];

    private static void InMemory(WebApplicationBuilder builder, List<Activity> spans)
    {
        // The OTLP exporter runs as deployed (it reads OTEL_* from the configuration), towards a port where
        // nothing listens; the test reads the spans from memory.
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9";
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
    }

    /// <summary>A cart id that <paramref name="owner"/> serves in <paramref name="entry"/>'s view.</summary>
    private static ulong OwnedBy(RunningNode entry, RunningNode owner)
    {
        for (var i = 0; i < 10_000; i++)
        {
            var id = Carts.NewId();
            var lookup = entry.Get<ClusterView>().Map.Lookup(id);
            if (lookup.Kind == OwnerKind.Remote && lookup.Owner == owner.AdvertisedHost)
            {
                return id;
            }
        }

        throw new InvalidOperationException("no cart id owned by the second node in 10,000 tries");
    }

    /// <summary>A copy of what an exporter collected so far (it appends from other threads, without a lock we could share).</summary>
    private static Activity[] Snapshot(List<Activity> spans)
    {
        while (true)
        {
            try
            {
                return [.. spans];
            }
            catch (InvalidOperationException)
            {
                // Appended to while copied: copy again.
            }
            catch (ArgumentException)
            {
                // Grown while copied: copy again.
            }
        }
    }

    private static string Describe(IEnumerable<Activity> spans) =>
        string.Join(", ", spans.Select(s => $"{s.DisplayName}[{s.SpanId}<-{s.ParentSpanId} {string.Join(' ', s.TagObjects.Select(t => t.Key + "=" + t.Value))}]"));

    private static string? Tag(Activity span, string name) => span.GetTagItem(name)?.ToString();

    private static async Task<CartState> NextAsync(AsyncServerStreamingCall<CartState> call)
    {
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TestTimeouts.Default), "the stream ended");
        return call.ResponseStream.Current;
    }

    private static async Task<Activity> WaitForSpanAsync(List<Activity> first, List<Activity> second, Func<Activity, bool> match)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var spans = Snapshot(first).Concat(Snapshot(second)).ToArray();

            var found = spans.Where(match).DistinctBy(s => s.SpanId).ToArray();
            if (found.Length == 1)
            {
                return found[0];
            }

            Assert.True(found.Length == 0, $"{found.Length} spans match, expected one: {Describe(found)}");
            Assert.True(waited.Elapsed < TestTimeouts.Default,
                $"no such span after {TestTimeouts.Default}; spans seen: {Describe(spans.DistinctBy(s => s.SpanId))}");
            await Task.Delay(50);
        }
    }
}
