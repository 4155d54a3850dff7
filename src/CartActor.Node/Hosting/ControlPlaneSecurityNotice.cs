using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>Says once at start, in one warning line, that a clustered node without a key or client CA has an open control plane.</summary>
internal sealed class ControlPlaneSecurityNotice(PeerCredentials credentials, NodeTlsHolder tls, IOptions<NodeOptions> options, ILogger<ControlPlaneSecurityNotice> logger)
    : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Mutual TLS (a client CA) authenticates peers as well as the key does.
        if (!credentials.IsConfigured && tls.Tls?.VerifiesPeers != true && options.Value.Seeds.Length > 0)
        {
            NodeLog.ControlPlaneOpen(logger);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
