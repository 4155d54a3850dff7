namespace CartActor.Node.Dashboard;

/// <summary>
/// The read-only dashboard page (configuration section "Dashboard"). Off by default: it shows cart contents
/// to anyone who reaches the HTTP port, and the HTTP port has no authentication.
/// </summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>Serve /dashboard on the HTTP port. Default false.</summary>
    public bool Enabled { get; set; }
}
