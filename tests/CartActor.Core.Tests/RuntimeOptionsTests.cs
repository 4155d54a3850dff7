namespace CartActor.Core.Tests;

/// <summary>Bad settings are refused when the runtime is built, naming the setting.</summary>
public sealed class RuntimeOptionsTests
{
    public static TheoryData<string, Action<CartRuntimeOptions>> InvalidSettings => new()
    {
        { "ShardCount", o => o.ShardCount = 0 },
        { "ShardCount", o => o.ShardCount = 4097 },
        { "MaxQueueDepthPerShard", o => o.MaxQueueDepthPerShard = 0 },
        { "ShardWorkBudget", o => o.ShardWorkBudget = 0 },
        { "MaxWritesInFlightPerShard", o => o.MaxWritesInFlightPerShard = 0 },
        { "MaxWritesInFlightPerShard", o => o.MaxWritesInFlightPerShard = 65 },
        { "IdleTtl", o => o.IdleTtl = TimeSpan.Zero },
        { "SweepInterval", o => o.SweepInterval = TimeSpan.FromSeconds(-1) },
        { "MaxActiveCarts", o => o.MaxActiveCarts = 0 },
        { "MaxMutationsPerApply", o => o.MaxMutationsPerApply = 0 },
        { "IdempotencyWindow", o => o.IdempotencyWindow = 0 },
        { "MaxIdempotencyKeyLength", o => o.MaxIdempotencyKeyLength = 0 },
        { "Currency", o => o.Currency = " " },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void AnInvalidSetting_IsRefusedByName(string setting, Action<CartRuntimeOptions> spoil)
    {
        var options = new CartRuntimeOptions();
        spoil(options);

        Assert.Contains(setting, options.Validate(), StringComparison.Ordinal);
        var error = Assert.Throws<ArgumentException>(() => new CartRuntime(options));
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaults_AreValid()
    {
        var options = new CartRuntimeOptions();

        Assert.Null(options.Validate());
        Assert.Equal(Environment.ProcessorCount * 4, options.ShardCount);
        Assert.Equal(128, options.IdempotencyWindow);
        Assert.Equal(400, options.MaxMutationsPerApply);
        Assert.True(options.MaxMutationsPerApply >= 2 * CartActor.Cart.CartLimits.MaxLines);
    }
}
