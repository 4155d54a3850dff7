using System.Diagnostics;
using System.Text;
using CartActor.Tests.Shared;

namespace CartActor.Node.Tests;

/// <summary>The built node run as an operator runs it (dotnet CartActor.Node.dll args), for exit codes and what it prints.</summary>
internal static class NodeCommand
{
    /// <summary>Runs the node to its exit (killing it after the test timeout) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WithTimeout();
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout.WithTimeout(), await stderr.WithTimeout());
    }

    /// <summary>Starts the node with redirected output; the caller owns the process.</summary>
    public static Process Start(string[] args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        start.ArgumentList.Add(NodeBinary.DllPath());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
    }
}
