using CartActor.Tests.Shared;

namespace CartActor.Persistence.Tests.Support;

/// <summary>The shared timeout for the await shape <see cref="TestTimeouts"/> lacks: a plain <see cref="ValueTask"/>.</summary>
internal static class StoreTimeouts
{
    public static Task WithTimeout(this ValueTask task) => task.AsTask().WaitAsync(TestTimeouts.Default);
}
