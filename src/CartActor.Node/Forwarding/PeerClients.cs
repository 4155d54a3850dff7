using System.Collections.Concurrent;
using CartActor.ControlPlane;
using CartActor.Node.Hosting;
using Grpc.Net.Client;

namespace CartActor.Node.Forwarding;

/// <summary>
/// One long-lived gRPC channel per peer (HTTP/2 multiplexes every call over it), created on first use and
/// disposed when the peer leaves. Never a channel per call. Every call carries the cluster key
/// (<see cref="PeerCredentialsHandler"/>) when one is configured; with TLS on, peers are dialled over https
/// and this node presents its certificate (<see cref="NodeTls.ForPeers"/>).
/// </summary>
internal sealed class PeerClients(PeerCredentials? credentials = null, NodeIdentity? identity = null, NodeTls? tls = null) : IDisposable
{
    private readonly ConcurrentDictionary<string, Peer> _peers = new(StringComparer.OrdinalIgnoreCase);
    private readonly PeerCredentials _credentials = credentials ?? PeerCredentials.None;
    private readonly NodeIdentity? _identity = identity;
    private readonly NodeTls? _tls = tls;

    public ControlPlane.ControlPlane.ControlPlaneClient For(string host) =>
        _peers.GetOrAdd(host, static (h, self) => new Peer(h, self._credentials, self._identity, self._tls), this).Client;

    /// <summary>The peer's channel, for the storefront's forwarded WatchCart stream (same connection pool as Apply and Get).</summary>
    public Grpc.Core.CallInvoker InvokerFor(string host) =>
        _peers.GetOrAdd(host, static (h, self) => new Peer(h, self._credentials, self._identity, self._tls), this).Invoker;

    /// <summary>Channels open now (one per peer dialled and not yet forgotten).</summary>
    public int Count => _peers.Count;

    public void Forget(string host)
    {
        if (_peers.TryRemove(host, out var peer))
        {
            peer.Dispose();
        }
    }

    /// <summary>
    /// Forgets a peer that is going away while calls to it may still be in flight (a Closing peer keeps serving
    /// its drain window): new calls get a new channel at once, the old one is disposed after <paramref name="grace"/>.
    /// </summary>
    public void ForgetAfter(string host, TimeSpan grace)
    {
        if (_peers.TryRemove(host, out var peer))
        {
            _ = Task.Delay(grace).ContinueWith(static (_, state) => ((Peer)state!).Dispose(), peer, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    public void Dispose()
    {
        foreach (var host in _peers.Keys)
        {
            Forget(host);
        }
    }

    private sealed class Peer : IDisposable
    {
        private readonly GrpcChannel _channel;

        public Peer(string host, PeerCredentials credentials, NodeIdentity? identity, NodeTls? tls)
        {
            var handler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(20),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
                ConnectTimeout = TimeSpan.FromSeconds(2),
                // Trace context goes out only as the routing loop writes it (NodeTracing.Inject, one traceparent
                // from the forward's span), never a second one added by HttpClient from whatever span is current.
                ActivityHeadersPropagator = null,
            };
            if (tls is not null)
            {
                handler.SslOptions = tls.ForPeers();
            }

            _channel = GrpcChannel.ForAddress($"{(tls is null ? "http" : "https")}://{host}", new GrpcChannelOptions
            {
                HttpHandler = new PeerCredentialsHandler(credentials, identity, handler),
                MaxReceiveMessageSize = 64 * 1024 * 1024,
                MaxRetryAttempts = 0,
            });
            Invoker = _channel.CreateCallInvoker();
            Client = new ControlPlane.ControlPlane.ControlPlaneClient(Invoker);
        }

        public Grpc.Core.CallInvoker Invoker { get; }

        public ControlPlane.ControlPlane.ControlPlaneClient Client { get; }

        public void Dispose() => _channel.Dispose();
    }
}
