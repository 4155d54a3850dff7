using System.Diagnostics;

namespace CartActor.Tests.Shared.Storage;

/// <summary>
/// A small tmpfs mounted for one test (a disk that can be filled in milliseconds), unmounted and removed on
/// dispose. Needs root (CI runs as root); elsewhere the test fails at once, naming what it needs.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    public static TmpfsMount Create(int megabytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cartactor-tmpfs", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(path);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        if (code != 0)
        {
            Directory.Delete(path);
            Assert.Fail($"this test (Category=Tmpfs) mounts a {megabytes} MiB tmpfs and needs root with mount permitted: 'mount -t tmpfs' exited {code}: {output.Trim()}");
        }

        return new TmpfsMount(path);
    }

    /// <summary>Writes a ballast file until the file system refuses (ENOSPC); returns the bytes written.</summary>
    public long Fill(string name)
    {
        var chunk = new byte[64 * 1024];
        long written = 0;
        using var file = new FileStream(System.IO.Path.Combine(Path, name), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        try
        {
            while (true)
            {
                file.Write(chunk);
                written += chunk.Length;
            }
        }
        catch (IOException)
        {
            // Full. What did not fit in the last chunk is filled a page at a time, so not even a small append fits.
        }

        try
        {
            while (true)
            {
                file.Write(chunk, 0, 4096);
                written += 4096;
            }
        }
        catch (IOException)
        {
        }

        return written;
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (int ExitCode, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }
}
