using System.Collections.Frozen;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using Grpc.Core;

namespace CartActor.Node.Services;

/// <summary>
/// Who may make which call when the cluster has a key or a client CA (the rules are described on
/// <see cref="PeerAuthInterceptor"/>): the one check both endpoints run, Grpc.AspNetCore's through the interceptor
/// and the minimal endpoint directly. Every refusal is a status built once at start: a refused call costs no
/// allocation and no exception here.
/// </summary>
internal sealed class PeerAuthorization
{
    public const string Service = "/control_plane_messages.ControlPlane/";

    private static readonly string[] PeerOnlyMethods = ["Negotiate", "AnnounceOwnership", "AnnounceExpiry", "Closing", "GetLocalActorIds"];

    private static readonly Status WrongKey = new(StatusCode.PermissionDenied, $"the cluster key presented in {PeerCredentials.KeyHeader} is not this cluster's");

    private readonly PeerCredentials _credentials;

    // A client certificate on the connection was issued by the cluster CA (NodeTls refuses others at the handshake).
    private readonly bool _certificateIsProof;
    private readonly FrozenDictionary<string, Status> _peerOnly;
    private readonly Status[] _markWithoutProof;

    public PeerAuthorization(PeerCredentials credentials, NodeTlsHolder tls)
    {
        _credentials = credentials;
        _certificateIsProof = tls.Tls?.VerifiesPeers == true;
        var proof = _certificateIsProof
            ? $"the cluster key in {PeerCredentials.KeyHeader} or a client certificate from the cluster CA"
            : $"the cluster key in {PeerCredentials.KeyHeader}";
        _peerOnly = PeerOnlyMethods
            .ToFrozenDictionary(m => Service + m, m => new Status(StatusCode.Unauthenticated, $"{m} is a peer-only call: it needs {proof}"), StringComparer.Ordinal);
        _markWithoutProof = ForwardingHeaders.InternalMarks
            .Select(mark => new Status(StatusCode.Unauthenticated, $"{mark} is a mark only an authenticated peer may add: it needs {proof}"))
            .ToArray();
    }

    /// <summary>The rules apply (a key or a client CA is configured); otherwise everything is open.</summary>
    public bool Enforced => _credentials.IsConfigured || _certificateIsProof;

    /// <summary>True when the call to <paramref name="method"/> (its gRPC path) may proceed; otherwise <paramref name="refusal"/> is its answer.</summary>
    public bool Allows(HttpContext http, string method, out Status refusal)
    {
        refusal = Status.DefaultSuccess;
        if (!Enforced)
        {
            return true;
        }

        var request = http.Request;
        switch (_credentials.Check(request))
        {
            case PeerProof.Valid:
                return true;
            case PeerProof.Invalid:
                refusal = WrongKey;
                return false;
        }

        if (_certificateIsProof && http.Connection.ClientCertificate is not null)
        {
            return true;
        }

        if (_peerOnly.TryGetValue(method, out var peerOnly))
        {
            refusal = peerOnly;
            return false;
        }

        var marks = ForwardingHeaders.InternalMarks;
        for (var i = 0; i < marks.Length; i++)
        {
            if (request.Headers.ContainsKey(marks[i]))
            {
                refusal = _markWithoutProof[i];
                return false;
            }
        }

        return true;
    }
}
