using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>
/// Who this node is on the wire: its advertised "name:port" and the ports actually bound (port 0 in the
/// settings means "pick one", known only once Kestrel has bound).
/// </summary>
public sealed class NodeIdentity
{
    private readonly NodeOptions _options;
    private readonly IServer _server;
    private string? _advertisedHost;
    private int _grpcPort;
    private int _httpPort;

    public NodeIdentity(IOptions<NodeOptions> options, IServer server)
    {
        _options = options.Value;
        _server = server;
    }

    /// <summary>"name:port", the value Ping, Negotiate and the announcements carry.</summary>
    public string AdvertisedHost => _advertisedHost ?? Resolve();

    public int GrpcPort => _advertisedHost is null ? ResolvePorts().Grpc : _grpcPort;

    public int HttpPort => _advertisedHost is null ? ResolvePorts().Http : _httpPort;

    private string Resolve()
    {
        var (grpc, http) = ResolvePorts();
        var host = HostName.WithPort(_options.Host ?? Environment.MachineName, grpc);
        if (grpc != 0)
        {
            _grpcPort = grpc;
            _httpPort = http;
            Volatile.Write(ref _advertisedHost, host);
        }

        return host;
    }

    private (int Grpc, int Http) ResolvePorts()
    {
        int grpc = _options.Port, http = _options.HttpPort;
        var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is null || (grpc != 0 && http != 0))
        {
            return (grpc, http);
        }

        // Kestrel lists bound endpoints in the order they were configured: gRPC first, then HTTP.
        var bound = addresses.Select(a => new Uri(a).Port).ToArray();
        if (grpc == 0 && bound.Length > 0) grpc = bound[0];
        if (http == 0 && bound.Length > 1) http = bound[1];
        return (grpc, http);
    }
}
