namespace CartActor.Node.Services;

/// <summary>
/// Middleware (after the minimal endpoint, before routing) that finishes what <see cref="ReplyBudgetInterceptor"/>
/// started: once Grpc.AspNetCore has written a counted reply (it does not flush a unary reply; Kestrel would, after
/// the pipeline returns), the reply is flushed under <see cref="ReplyBudget.StallTimeout"/> and its bytes go back to
/// the budget. A request with no charge passes through with one feature lookup.
/// </summary>
internal sealed class ReplyBudgetFlush(ReplyBudget budget)
{
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var pending = next(context);
        return pending.IsCompletedSuccessfully && context.Features.Get<Charge>() is null ? Task.CompletedTask : FlushAsync(context, pending);
    }

    private async Task FlushAsync(HttpContext context, Task pending)
    {
        var completed = false;
        try
        {
            await pending.ConfigureAwait(false);
            completed = true;
        }
        finally
        {
            if (context.Features.Get<Charge>() is { } charge)
            {
                context.Features.Set<Charge>(null);
                try
                {
                    if (completed)
                    {
                        await budget.FlushAsync(context).ConfigureAwait(false);
                    }
                }
                finally
                {
                    budget.Return(charge.Bytes);
                }
            }
        }
    }

    /// <summary>The bytes a call's reply took from the budget.</summary>
    internal sealed record Charge(int Bytes);
}
