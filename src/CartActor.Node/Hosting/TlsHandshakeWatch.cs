using System.Security.Cryptography.X509Certificates;
using CartActor.Node.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Hosting;

/// <summary>
/// Makes failed TLS handshakes on the gRPC port visible. Kestrel logs each one at Debug only
/// (HttpsConnectionMiddleware), so an operator whose certificates do not fit (a peer's certificate from another
/// CA, a client that does not trust the node's, a cleartext client on a TLS port) saw nothing at the default level.
/// This writes one Warning per <see cref="Interval"/> at most, with the count since the last line and the subject
/// of the last client certificate the cluster CA refused. A handshake counts as failed when the connection ends
/// without reaching the connection middleware that runs after TLS (<see cref="AfterTls"/>): that includes a client
/// that connects and closes without a byte, which a TCP probe of the TLS port does.
/// One instance per node; <see cref="OnHeartbeat"/> writes the count of the last window when no failure follows.
/// </summary>
internal sealed class TlsHandshakeWatch(ILogger<TlsHandshakeWatch> logger, TimeProvider time) : IHeartbeatDuty
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    private static readonly HandshakeDone Done = new();

    private long _failures;
    private long _nextReport;
    private string? _lastRefusedCertificate;

    /// <summary>Connection middleware ahead of UseHttps: counts a connection that never got through the handshake.</summary>
    public ConnectionDelegate BeforeTls(ConnectionDelegate next) => async connection =>
    {
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            if (connection.Features.Get<HandshakeDone>() is null)
            {
                Failed();
            }
        }
    };

    /// <summary>Connection middleware after UseHttps: reached only by a connection whose handshake succeeded.</summary>
    public static ConnectionDelegate AfterTls(ConnectionDelegate next) => connection =>
    {
        connection.Features.Set(Done);
        return next(connection);
    };

    /// <summary>The cluster CA refused a client certificate (called from the handshake's validation).</summary>
    public void CertificateRefused(X509Certificate2 certificate) =>
        Volatile.Write(ref _lastRefusedCertificate, certificate.Subject);

    public void OnHeartbeat()
    {
        if (Volatile.Read(ref _failures) > 0)
        {
            TryReport();
        }
    }

    internal void Failed()
    {
        Interlocked.Increment(ref _failures);
        TryReport();
    }

    private void TryReport()
    {
        var now = time.GetTimestamp();
        var due = Volatile.Read(ref _nextReport);
        if (now < due || Interlocked.CompareExchange(ref _nextReport, now + (long)(Interval.TotalSeconds * time.TimestampFrequency), due) != due)
        {
            return;
        }

        var count = Interlocked.Exchange(ref _failures, 0);
        if (count == 0)
        {
            // Nothing to say: let the next failure be reported at once.
            Volatile.Write(ref _nextReport, now);
            return;
        }

        var refused = Interlocked.Exchange(ref _lastRefusedCertificate, null);
        NodeLog.TlsHandshakesFailed(logger, count, (int)Interval.TotalSeconds, refused is null ? "none" : $"'{refused}' (not issued by --tls-client-ca)");
    }

    /// <summary>The mark a connection carries once its handshake succeeded.</summary>
    private sealed class HandshakeDone;
}
