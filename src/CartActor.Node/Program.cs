using System.Net.Sockets;
using CartActor.Node.Hosting;

// --help and --version answer and exit without starting a node.
if (NodeCommandLine.AsksForHelp(args))
{
    NodeHelp.WriteHelp(Console.Out);
    return 0;
}

if (NodeCommandLine.AsksForVersion(args))
{
    NodeHelp.WriteVersion(Console.Out);
    return 0;
}

// One clear line for an operator, never a stack trace, when start-up cannot proceed.
try
{
    var app = NodeHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (NodeCommandLineException ex)
{
    Console.Error.WriteLine($"cartactor: {ex.Message}");
    Console.Error.WriteLine(NodeCommandLine.Usage);
    return 2;
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
