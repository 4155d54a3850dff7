namespace CartActor.Persistence.Tests.Support;

/// <summary>
/// A clock whose wall time a test sets (carts stamp updated_at from it) while timers and timestamps stay real:
/// jumping a fake clock forward by weeks would fire the runtime's 10-second sweep timer for every tick skipped.
/// </summary>
internal sealed class WallClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}
