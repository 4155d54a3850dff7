using System.Security.Cryptography;
using System.Text;

namespace CartActor.Node.Forwarding;

/// <summary>What a request's cluster-key header proves about its sender.</summary>
public enum PeerProof
{
    /// <summary>No key presented: a client (or a peer without the key).</summary>
    Absent,

    /// <summary>The cluster's key: an authenticated peer.</summary>
    Valid,

    /// <summary>A key that is not the cluster's.</summary>
    Invalid,
}

/// <summary>
/// The cluster credential (<c>--cluster-key</c>, <c>Cluster:Key</c> or <c>Cluster:KeyFile</c>): peers send it on
/// every node-to-node call in <see cref="KeyHeader"/> (<see cref="PeerCredentialsHandler"/>), and the node honours
/// peer-only calls and internal marks only from a request that carries it. Compared in constant time over
/// SHA-256 digests (equal lengths whatever was presented, so not even the key's length leaks). The key is never
/// logged, never part of a message.
/// </summary>
public sealed class PeerCredentials
{
    public const string KeyHeader = "x-cart-cluster-key";

    /// <summary>Sent with Closing only: the sender's advertised host, which must be the host the notice names.</summary>
    public const string ClosingHostHeader = "x-cart-closing-host";

    public const int MinKeyLength = 16;
    public const int MaxKeyLength = 256;

    private readonly byte[]? _digest;

    private PeerCredentials(string? key)
    {
        Key = key;
        _digest = key is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>No key: the control plane is open (the seed contract's behaviour).</summary>
    public static PeerCredentials None { get; } = new(null);

    public bool IsConfigured => _digest is not null;

    /// <summary>The key to send; only <see cref="PeerCredentialsHandler"/> reads it.</summary>
    internal string? Key { get; }

    /// <summary>
    /// The key from <c>Cluster:Key</c> or the file <c>Cluster:KeyFile</c> names (a mounted Kubernetes Secret; trailing
    /// newlines are trimmed). Problems name the setting, never the value.
    /// </summary>
    /// <exception cref="Hosting.NodeConfigurationException">Both set, the file unreadable, or a key of the wrong length or characters.</exception>
    public static PeerCredentials From(string? key, string? keyFile)
    {
        if (!string.IsNullOrEmpty(key) && !string.IsNullOrEmpty(keyFile))
        {
            throw new Hosting.NodeConfigurationException("Cluster:Key (--cluster-key) and Cluster:KeyFile are both set; set one");
        }

        var source = "Cluster:Key (--cluster-key)";
        if (!string.IsNullOrEmpty(keyFile))
        {
            source = $"Cluster:KeyFile '{keyFile}'";
            try
            {
                key = File.ReadAllText(keyFile).TrimEnd('\r', '\n');
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new Hosting.NodeConfigurationException($"{source} could not be read: {ex.Message}");
            }
        }

        if (string.IsNullOrEmpty(key))
        {
            return string.IsNullOrEmpty(keyFile) ? None : throw new Hosting.NodeConfigurationException($"{source} is empty");
        }

        if (key.Length is < MinKeyLength or > MaxKeyLength)
        {
            throw new Hosting.NodeConfigurationException($"{source} must be {MinKeyLength}..{MaxKeyLength} characters (was {key.Length})");
        }

        foreach (var c in key)
        {
            // It travels as an HTTP/2 header value: visible ASCII only.
            if (c is < '!' or > '~')
            {
                throw new Hosting.NodeConfigurationException($"{source} must be printable ASCII without spaces");
            }
        }

        return new PeerCredentials(key);
    }

    /// <summary>What the request's key header proves. Allocation-free; constant time in the presented key.</summary>
    public PeerProof Check(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(KeyHeader, out var values) || values.Count == 0)
        {
            return PeerProof.Absent;
        }

        if (_digest is null || values.Count != 1 || values[0] is not { Length: > 0 and <= MaxKeyLength } presented)
        {
            return PeerProof.Invalid;
        }

        Span<byte> utf8 = stackalloc byte[MaxKeyLength * 3];
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        var length = Encoding.UTF8.GetBytes(presented, utf8);
        SHA256.HashData(utf8[..length], digest);
        return CryptographicOperations.FixedTimeEquals(digest, _digest) ? PeerProof.Valid : PeerProof.Invalid;
    }
}
