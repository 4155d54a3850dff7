using System.Text;
using System.Text.Json;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Dashboard;

/// <summary>
/// The dashboard: a page (/dashboard) and the two read-only JSON views it polls. The overview is this
/// node's view of the cluster (members, their state and ring share, readiness, store health, live carts);
/// rates and latency the page computes from /metrics. The cart inspector asks for a cart through the node's
/// own gRPC endpoint, so the lookup takes the same route as any client's Get (forwarded to the owner).
/// Nothing here runs unless an operator opens the page.
/// </summary>
internal sealed class DashboardEndpoints(
    ClusterView view,
    NodeIdentity identity,
    NodeReadiness readiness,
    CartRuntime runtime,
    IOptions<NodeOptions> options,
    NodeTlsHolder tls) : IDisposable
{
    private readonly Lazy<GrpcChannel> _self = new(() => tls.Tls is { } t
        ? GrpcChannel.ForAddress($"https://{LoopbackFor(options.Value.Bind)}:{identity.GrpcPort}", new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = t.ForSelf() } })
        : GrpcChannel.ForAddress($"http://{LoopbackFor(options.Value.Bind)}:{identity.GrpcPort}"));

    public static void Map(WebApplication app)
    {
        app.MapGet("/dashboard", () => Results.Content(DashboardPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/dashboard/api/overview", (DashboardEndpoints dashboard) => dashboard.Overview());
        app.MapGet("/dashboard/api/carts/{id}", (string id, DashboardEndpoints dashboard, CancellationToken cancellation) => dashboard.CartAsync(id, cancellation));
    }

    private IResult Overview()
    {
        var ring = view.Ring;
        var slots = ring.SlotsPerMember();
        var members = ring.Members.Select((host, i) => new MemberView(
            host,
            ring.IsSuspect(i) ? "suspect" : "alive",
            i == ring.SelfIndex,
            (double)slots[i] / Ownership.RingSnapshot.SlotCount)).ToArray();
        var (version, commit) = NodeHelp.Version();
        return Results.Json(new OverviewView(
            view.Self,
            version,
            commit,
            readiness.Reason,
            new StoreView(runtime.Store?.Name ?? "memory", readiness.Reason != "store unavailable"),
            ring.Epoch,
            ring.IsLeaving,
            members,
            runtime.ActiveCarts));
    }

    private async Task<IResult> CartAsync(string id, CancellationToken cancellation)
    {
        if (!ulong.TryParse(id, out var cartId) || cartId == 0)
        {
            return Results.BadRequest(new { error = $"'{id}' is not a cart id (a positive whole number)" });
        }

        var owner = view.Ring.Lookup(cartId);
        GetReply reply;
        try
        {
            var client = new ControlPlane.ControlPlane.ControlPlaneClient(_self.Value);
            reply = await client.GetAsync(new GetRequest { Id = cartId }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellation).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            return Results.Json(new { id = cartId.ToString(System.Globalization.CultureInfo.InvariantCulture), owner = owner.Owner, error = $"{ex.StatusCode}: {ex.Status.Detail}" }, statusCode: StatusCodes.Status502BadGateway);
        }

        // The state as the contract's JSON (what grpcurl shows), inside a small envelope.
        var state = reply.Grain.Unpack<CartState>();
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", cartId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("owner", owner.Owner);
            json.WriteBoolean("local", owner.Owner == view.Self);
            json.WritePropertyName("state");
            json.WriteRawValue(JsonFormatter.Default.Format(state));
            json.WriteEndObject();
        }

        return Results.Content(Encoding.UTF8.GetString(buffer.ToArray()), "application/json");
    }

    /// <summary>Where this node's own gRPC port answers: its bind address when that is one IP, else loopback.</summary>
    private static string LoopbackFor(string bind) =>
        BindAddress.TryParse(bind, out var address) && address.Address is { } ip
            ? (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString())
            : "127.0.0.1";

    public void Dispose()
    {
        if (_self.IsValueCreated)
        {
            _self.Value.Dispose();
        }
    }

    private sealed record MemberView(string Host, string State, bool Self, double Share);

    private sealed record StoreView(string Name, bool Healthy);

    private sealed record OverviewView(string Self, string Version, string Commit, string Readiness, StoreView Store, long RingEpoch, bool Leaving, MemberView[] Members, long ActiveCarts);
}
