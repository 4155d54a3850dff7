using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CartActor.Tests.Shared.Tls;

/// <summary>
/// Certificates a test creates for itself (never checked in, never from the machine's store): a CA, and leaf
/// certificates it issues for 127.0.0.1 and localhost, written as PEM files into a fresh directory that is
/// deleted on dispose. ECDSA P-256 keys: quick to create, accepted by TLS 1.2 and 1.3.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private TestCertificates(string name, X509Certificate2 ca, string directory)
    {
        Name = name;
        Ca = ca;
        Directory = directory;
        CaFile = Path.Combine(directory, $"{name}-ca.pem");
        File.WriteAllText(CaFile, ca.ExportCertificatePem());
    }

    public string Name { get; }

    /// <summary>The CA, with its private key.</summary>
    public X509Certificate2 Ca { get; }

    public string Directory { get; }

    /// <summary>The CA certificate as PEM (what --tls-client-ca names).</summary>
    public string CaFile { get; }

    /// <summary>A CA named <paramref name="name"/> in a new temporary directory.</summary>
    public static TestCertificates CreateCa(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cartactor-tls", Guid.NewGuid().ToString("n"));
        System.IO.Directory.CreateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return new TestCertificates(name, request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1)), directory);
    }

    /// <summary>
    /// A leaf certificate this CA issues for 127.0.0.1, ::1 and localhost, good for serving and for client
    /// authentication (a node uses one certificate for both), written as <c>{name}.pem</c> and <c>{name}.key</c>.
    /// </summary>
    public Leaf Issue(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Ca, true, false));
        var now = DateTimeOffset.UtcNow;
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var issued = request.Create(Ca, now.AddMinutes(-5), now.AddHours(12), serial);
        var withKey = issued.CopyWithPrivateKey(key);
        var certFile = Path.Combine(Directory, $"{name}.pem");
        var keyFile = Path.Combine(Directory, $"{name}.key");
        File.WriteAllText(certFile, withKey.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return new Leaf(withKey, certFile, keyFile);
    }

    /// <summary>A client's TLS settings: trust only this CA, and present <paramref name="clientCertificate"/> if given.</summary>
    public SslClientAuthenticationOptions ClientOptions(X509Certificate2? clientCertificate = null) => new()
    {
        ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || certificate is null)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        },
    };

    public void Dispose()
    {
        Ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the temp directory is the OS's to clean.
        }
    }

    /// <summary>An issued certificate (with its key) and the PEM files holding it.</summary>
    public sealed record Leaf(X509Certificate2 Certificate, string CertFile, string KeyFile);
}
