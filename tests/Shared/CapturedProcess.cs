using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace CartActor.Tests.Shared;

/// <summary>
/// A child process (a node, a redis-server) started with its standard output and error captured line by line,
/// so a failing test can show the process's own log. The capture outlives the process: a restarted process
/// appends to the same <see cref="CapturedOutput"/>.
/// </summary>
public static class CapturedProcess
{
    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/>; every line it writes goes to <paramref name="output"/>.</summary>
    public static Process Start(string fileName, IEnumerable<string> arguments, CapturedOutput output)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => output.Append(e.Data);
        process.ErrorDataReceived += (_, e) => output.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}

/// <summary>Lines captured from child processes, thread-safe; optionally stamped with their arrival time.</summary>
/// <param name="stamped">
/// Prefix each line with the UTC time it arrived: a node's console lines carry no time, and a chaos test lines
/// them up with its own events.
/// </param>
public sealed class CapturedOutput(bool stamped = false)
{
    private readonly StringBuilder _text = new();

    public void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_text)
        {
            if (stamped)
            {
                _text.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)).Append(' ');
            }

            _text.AppendLine(line);
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
