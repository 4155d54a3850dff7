using CartActor.Node.Hosting;

namespace CartActor.Node.Forwarding;

/// <summary>
/// Adds the cluster key to every call a peer channel makes (and, on Closing, this node's advertised host), at the
/// HTTP layer below gRPC, so no call site can forget it. Without a key it adds nothing.
/// </summary>
internal sealed class PeerCredentialsHandler(PeerCredentials credentials, NodeIdentity? identity, HttpMessageHandler inner)
    : DelegatingHandler(inner)
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (credentials.Key is { } key)
        {
            request.Headers.TryAddWithoutValidation(PeerCredentials.KeyHeader, key);
        }

        if (identity is not null && request.RequestUri?.AbsolutePath.EndsWith("/Closing", StringComparison.Ordinal) == true)
        {
            request.Headers.TryAddWithoutValidation(PeerCredentials.ClosingHostHeader, identity.AdvertisedHost);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
