namespace CartActor.Tests.Shared;

/// <summary>The built node (CartActor.Node.dll) that the tests run as a real process.</summary>
public static class NodeBinary
{
    /// <summary>The node built in the same configuration as the running tests (their project references it).</summary>
    public static string DllPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CartActor.Fast.sln")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException("CartActor.Fast.sln not found above " + AppContext.BaseDirectory);
        }

        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(dir.FullName, "src", "CartActor.Node", "bin", configuration, "net10.0", "CartActor.Node.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build the node first", dll);
    }
}
