namespace CartActor.Core.Tests.Support;

/// <summary>The shared timeout for the one await shape <see cref="TestTimeouts"/> lacks: a plain <see cref="ValueTask"/>.</summary>
internal static class ValueTaskTimeouts
{
    public static Task WithTimeout(this ValueTask task) => task.AsTask().WaitAsync(TestTimeouts.Default);
}
