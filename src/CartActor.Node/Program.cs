using System.Net.Sockets;
using CartActor.Node.Hosting;

// One clear line for an operator, never a stack trace, when start-up cannot proceed.
try
{
    var app = NodeHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (NodeConfigurationException ex)
{
    Console.Error.WriteLine($"cartactor: invalid configuration: {ex.Message}");
    return 2;
}
catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"cartactor: cannot listen: {ex.Message} (set --port / --http-port)");
    return 3;
}
