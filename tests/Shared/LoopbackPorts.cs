using System.Net;
using System.Net.Sockets;

namespace CartActor.Tests.Shared;

/// <summary>Ports for nodes that tests start as real processes on fixed ports (so a restart can rebind them).</summary>
public static class LoopbackPorts
{
    // Ports handed out in this test process: "free now" stays true until the node binds, about a second later,
    // so two tests running in parallel (or one cluster asking for six ports) could be handed the same port and
    // one node then failed with "address already in use" (CI, MutualTlsClusterTests). Never hand one out twice.
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A loopback port free right now, below Linux's ephemeral range (32768+): a port handed out by binding port 0
    /// is in that range, where every outgoing connection and every other test's port-0 listener on this shared
    /// machine draws from, and was seen taken again before the node bound it (or before a restart rebound it).
    /// Distinct within this process for its whole life (12 000 ports: ample for a test run).
    /// </summary>
    public static int Free()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            lock (HandedOut)
            {
                if (!HandedOut.Add(port))
                {
                    continue;
                }
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: try another.
            }
        }

        throw new InvalidOperationException("no free loopback port in 20000-32000");
    }
}
