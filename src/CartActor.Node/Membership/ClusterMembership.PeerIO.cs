using System.Net;
using System.Net.Sockets;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Ownership;
using Grpc.Core;

namespace CartActor.Node.Membership;

/// <summary>Ping, Negotiate and seed resolution: the I/O of a tick, to peers and to DNS.</summary>
internal sealed partial class ClusterMembership
{
    private async Task<string?> PingAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await _clients.For(host)
                .PingAsync(new Empty(), PeerProbe(), deadline: DateTime.UtcNow + _options.PingTimeout, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            return string.IsNullOrEmpty(reply.Host) ? host : reply.Host;
        }
        catch (Exception ex) when (ex is RpcException or ObjectDisposedException)
        {
            // ObjectDisposedException: the peer's channel was disposed under this call (the peer was forgotten or
            // closed meanwhile): no answer, like any other ping that got none.
            return null;
        }
    }

    private async Task NegotiateAsync(CancellationToken cancellationToken)
    {
        string[] members;
        var request = new NegotiateRequest();
        lock (_gate)
        {
            // Only hosts that answered this node's pings: a name someone merely told us about is never passed on,
            // so one Negotiate naming hosts that never answer reaches no other member.
            request.KnownHosts.Add(_view.Self);
            request.KnownHosts.AddRange(_peers.Members.Order(StringComparer.Ordinal));
            members = [.. _peers.Alive];
        }

        // As for pings, a reply proves the view current from when the request left.
        var sentAt = _time.GetTimestamp();
        var replies = await Task.WhenAll(members.Select(async host =>
        {
            try
            {
                return await _clients.For(host)
                    .NegotiateAsync(request, deadline: DateTime.UtcNow + _options.PingTimeout * 2, cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RpcException or ObjectDisposedException)
            {
                return null;
            }
        })).ConfigureAwait(false);
        if (replies.Any(r => r is not null) && !_leaving)
        {
            RenewFreshness(sentAt);
        }

        Learn(replies.Where(r => r is not null).SelectMany(r => r!.Hosts));
        ConfirmSelf(replies);
    }

    private async Task<List<string>> ResolveSeedsAsync(CancellationToken cancellationToken)
    {
        var hosts = new List<string>();
        foreach (var seed in _node.Seeds)
        {
            if (!HostName.TryParse(seed, out var endpoint))
            {
                continue;
            }

            hosts.Add(seed);
            if (IPAddress.TryParse(endpoint.Host, out _))
            {
                continue;
            }

            try
            {
                // A headless service name resolves to every pod: each address is a candidate too.
                var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
                if (addresses.Length > 1)
                {
                    hosts.AddRange(addresses.Select(a => a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]:{endpoint.Port}" : $"{a}:{endpoint.Port}"));
                }
            }
            catch (SocketException ex)
            {
                ClusterLog.SeedUnresolved(_logger, seed, ex.Message);
            }
        }

        return hosts;
    }

    /// <summary>Marks a membership Ping as a peer's (a node on its own disk refuses to be counted as a member).</summary>
    private Metadata PeerProbe() => _peerProbe ??= new Metadata { { ForwardingHeaders.Sender, _view.Self } };

    private Metadata? _peerProbe;
}
