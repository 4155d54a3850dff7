using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Membership;
using CartActor.Node.Tests;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Google.Protobuf.WellKnownTypes;
using PuppeteerSharp;

namespace CartActor.Cluster.Tests;

/// <summary>
/// The dashboard page as a person sees it, in a real browser (Debian's headless Chromium, installed by
/// .ci/run) against a running 2-node cluster on Redis: the members are listed with their state and share, and
/// a cart typed into the inspector is found with its contents and its owner. The screenshot is kept in
/// TestResults/dashboard-page.png.
/// </summary>
[Trait("Category", "Browser")]
public sealed class DashboardPageTests
{
    private static readonly TimeSpan PageTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task APersonSeesTheMembersAndFindsACartByIdOwnedByTheOtherNode()
    {
        using var redis = new RedisServerFixture();
        string[] args = [.. TestCluster.FastTimers, "--store", redis.ConnectionString, "--dashboard", "true"];
        await using var first = await RunningNode.StartAsync(args);
        await using var second = await RunningNode.StartAsync([.. args, "--seeds", $"127.0.0.1:{first.GrpcPort}"]);
        await Eventually.TrueAsync(
            () => new[] { first, second }.All(n => n.Get<ClusterView>().Ring.Members.Count == 2 && n.Get<ClusterMembership>().IsJoined),
            TimeSpan.FromSeconds(20));

        // A cart the page's node (the first) does not own: the inspector must find it on the second.
        var cart = Enumerable.Range(1, 1000).Select(i => (ulong)(900_000 + i))
            .First(id => first.Get<ClusterView>().Ring.OwnerOf(id) == second.AdvertisedHost.ToLowerInvariant());
        await first.Client.ApplyAsync(new ApplyRequest
        {
            Id = cart,
            Messages = { Any.Pack(new AddItem { Sku = "SKU-DASH", Name = "Dashboard coffee", Quantity = 2, UnitPrice = 4990, TaxRate = 2500 }) },
        }).ResponseAsync.WithTimeout();

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true,
            ExecutablePath = ChromiumPath(),
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            DefaultViewport = new ViewPortOptions { Width = 1280, Height = 860 },
        }).WaitAsync(PageTimeout);
        await using var page = await browser.NewPageAsync().WaitAsync(PageTimeout);
        await page.GoToAsync($"http://127.0.0.1:{first.HttpPort}/dashboard").WaitAsync(PageTimeout);

        await page.WaitForFunctionAsync("() => document.querySelectorAll('#members tbody tr').length === 2").WaitAsync(PageTimeout);
        var members = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#members tbody tr')].map(r => r.innerText)").WaitAsync(PageTimeout);
        Assert.Contains(members, m => m.Contains(first.AdvertisedHost.ToLowerInvariant() + " (this node)", StringComparison.Ordinal) && m.Contains("alive", StringComparison.Ordinal));
        Assert.Contains(members, m => m.Contains(second.AdvertisedHost.ToLowerInvariant(), StringComparison.Ordinal) && !m.Contains("this node", StringComparison.Ordinal) && m.Contains("alive", StringComparison.Ordinal));
        Assert.All(members, m => Assert.Matches(@"\d+\.\d %", m));
        Assert.Equal("ready", await Text(page, "#readiness"));

        await page.TypeAsync("#cartId", cart.ToString(System.Globalization.CultureInfo.InvariantCulture)).WaitAsync(PageTimeout);
        await page.ClickAsync("#inspect button").WaitAsync(PageTimeout);
        await page.WaitForFunctionAsync("() => document.getElementById('cartSummary').innerText.includes('owned by')").WaitAsync(PageTimeout);

        var summary = await Text(page, "#cartSummary");
        Assert.Contains($"Cart {cart} is owned by {second.AdvertisedHost.ToLowerInvariant()}:", summary, StringComparison.Ordinal);
        Assert.Contains("1 line(s), total 99.80 EUR", summary, StringComparison.Ordinal);
        var items = await Text(page, "#cartItems");
        Assert.Contains("SKU-DASH", items, StringComparison.Ordinal);
        Assert.Contains("Dashboard coffee", items, StringComparison.Ordinal);

        // Let one more poll fill the rates, then keep what a person saw.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var screenshot = Path.Combine(RepositoryRoot(), "TestResults", "dashboard-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(screenshot, new ScreenshotOptions { FullPage = true }).WaitAsync(PageTimeout);
        Assert.True(new FileInfo(screenshot).Length > 10_000, screenshot);
    }

    private static async Task<string> Text(IPage page, string selector) =>
        await page.EvaluateExpressionAsync<string>($"document.querySelector('{selector}').innerText").WaitAsync(PageTimeout);

    /// <summary>Debian's chromium (apt-get install chromium; .ci/run installs it), or CHROMIUM_PATH.</summary>
    private static string ChromiumPath()
    {
        var path = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";
        return File.Exists(path) ? path : throw new FileNotFoundException("headless Chromium not found: apt-get install chromium (or set CHROMIUM_PATH)", path);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CartActor.Fast.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? AppContext.BaseDirectory;
    }
}
