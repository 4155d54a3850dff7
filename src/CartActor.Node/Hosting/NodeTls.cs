using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CartActor.Node.Hosting;

/// <summary>
/// TLS on the gRPC port and between nodes, loaded once at start from <c>--tls-cert</c>, <c>--tls-key</c> and
/// <c>--tls-client-ca</c> (PEM). The node's certificate serves the gRPC port and is the client certificate it
/// presents when it dials a peer. With a client CA the server asks every connection for a certificate and
/// accepts a connection without one (a storefront client has none) but refuses, at the handshake, one whose
/// certificate this CA did not issue; a connection that presented one counts as an authenticated peer
/// (<see cref="Services.PeerAuthInterceptor"/>). The same CA is the trust root for peers' server certificates.
/// Owned by the host (one instance, immutable after start).
/// </summary>
public sealed class NodeTls
{
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private readonly X509Certificate2Collection? _clientCa;

    private NodeTls(X509Certificate2 certificate, X509Certificate2Collection? clientCa)
    {
        Certificate = certificate;
        _clientCa = clientCa;
    }

    /// <summary>The node's certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>True when a client CA is set: peers present certificates and are checked against it.</summary>
    public bool VerifiesPeers => _clientCa is not null;

    /// <summary>Subject and expiry of the certificate, and the client CA's subjects, for the start-up line.</summary>
    public string Describe() =>
        $"certificate '{Certificate.Subject}' (expires {Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}); " +
        (_clientCa is null ? "no client CA: peers dial TLS and trust the system store" : $"client certificates asked for, issued by '{string.Join("', '", _clientCa.Select(c => c.Subject))}'");

    /// <summary>
    /// Loads the PEM files the options name, or returns null when TLS is off. Every refusal names the flag
    /// (a missing or unreadable file, a key without a certificate, a key that does not match).
    /// </summary>
    /// <exception cref="NodeConfigurationException">The message names the setting and its flag.</exception>
    public static NodeTls? From(NodeOptions options)
    {
        var cert = Blank(options.TlsCert);
        var key = Blank(options.TlsKey);
        var clientCa = Blank(options.TlsClientCa);
        if (cert is null)
        {
            if (key is not null) throw new NodeConfigurationException("Node:TlsKey (--tls-key) is set without Node:TlsCert (--tls-cert)");
            if (clientCa is not null) throw new NodeConfigurationException("Node:TlsClientCa (--tls-client-ca) needs Node:TlsCert (--tls-cert): mutual TLS runs over the node's own TLS");
            return null;
        }

        Readable(cert, "Node:TlsCert (--tls-cert)");
        if (key is not null) Readable(key, "Node:TlsKey (--tls-key)");
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(cert, key);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // Unreadable PEM, no key, or a key of another certificate (ArgumentException from the key match).
            throw new NodeConfigurationException(key is null
                ? $"Node:TlsCert (--tls-cert) '{cert}' must hold a PEM certificate and its private key (or name the key with --tls-key): {ex.Message}"
                : $"Node:TlsCert (--tls-cert) '{cert}' and Node:TlsKey (--tls-key) '{key}' are not a PEM certificate and its matching private key: {ex.Message}");
        }

        if (!certificate.HasPrivateKey)
        {
            throw new NodeConfigurationException($"Node:TlsKey (--tls-key): no private key for the certificate in '{cert}'");
        }

        return new NodeTls(certificate, clientCa is null ? null : LoadCa(clientCa));
    }

    /// <summary>Kestrel's HTTPS settings for the gRPC port.</summary>
    public void ConfigureServer(HttpsConnectionAdapterOptions https) => ConfigureServer(https, refused: null);

    /// <summary>Kestrel's HTTPS settings for the gRPC port; <paramref name="refused"/> hears of each client certificate the client CA refuses.</summary>
    internal void ConfigureServer(HttpsConnectionAdapterOptions https, Action<X509Certificate2>? refused)
    {
        https.ServerCertificate = Certificate;
        https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (_clientCa is null)
        {
            https.ClientCertificateMode = ClientCertificateMode.NoCertificate;
            return;
        }

        // Allow, not require: clients without a certificate keep Apply and Get; a certificate that is presented
        // must come from the CA, or the handshake fails.
        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (certificate, presented, _) =>
        {
            if (IsIssuedByClientCa(certificate, presented, ClientAuth))
            {
                return true;
            }

            refused?.Invoke(certificate);
            return false;
        };
    }

    /// <summary>TLS settings for a peer channel: this node's certificate as the client certificate, and the peer's server certificate checked against the client CA when one is set.</summary>
    public SslClientAuthenticationOptions ForPeers() => new()
    {
        ClientCertificates = [Certificate],
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        RemoteCertificateValidationCallback = _clientCa is null
            ? null
            : (_, certificate, presented, errors) =>
                // The host name must match; the chain may end in the cluster CA instead of a system root.
                (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
                && certificate is not null
                && IsIssuedByClientCa(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), presented, ServerAuth),
    };

    /// <summary>TLS settings for the node's calls to itself (the dashboard's cart inspector): only this node's own certificate is trusted.</summary>
    public SslClientAuthenticationOptions ForSelf() => new()
    {
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(Certificate.RawData),
    };

    /// <summary>
    /// True when <paramref name="certificate"/> chains to the client CA (through intermediates the other side
    /// <paramref name="presented"/>, if any) and allows <paramref name="usage"/>.
    /// </summary>
    private bool IsIssuedByClientCa(X509Certificate2 certificate, X509Chain? presented, Oid usage)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCa!);
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(usage);
        return chain.Build(certificate);
    }

    private static X509Certificate2Collection LoadCa(string path)
    {
        Readable(path, "Node:TlsClientCa (--tls-client-ca)");
        var ca = new X509Certificate2Collection();
        try
        {
            ca.ImportFromPemFile(path);
        }
        catch (CryptographicException ex)
        {
            throw new NodeConfigurationException($"Node:TlsClientCa (--tls-client-ca) '{path}' is not a PEM certificate bundle: {ex.Message}");
        }

        return ca.Count > 0 ? ca : throw new NodeConfigurationException($"Node:TlsClientCa (--tls-client-ca) '{path}' holds no PEM certificate");
    }

    private static void Readable(string path, string setting)
    {
        try
        {
            using var _ = File.OpenRead(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigurationException($"{setting} '{path}' could not be read: {ex.Message}");
        }
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>The node's TLS settings for services that ask for them; <see cref="Tls"/> is null when TLS is off.</summary>
public sealed record NodeTlsHolder(NodeTls? Tls);
