using System.Collections.Frozen;
using ProtoService = Google.Protobuf.Reflection.ServiceDescriptor;

namespace CartActor.Node.Diagnostics;

/// <summary>
/// The fixed set of RPC names that metrics and the failed-request log label calls with: every method of
/// <c>controlplane.ControlPlane</c> (by its bare name, as the dashboards query it: "Apply", "Get"), then every
/// method of the storefront's <c>cartactor.cart.v1.CartService</c> (bare names too; none collides with a
/// ControlPlane name, which the constructor checks), then "other" for anything else (health, reflection, an
/// unknown path). A label never comes from client text, so the series count is bounded by this list.
/// </summary>
internal static class RpcCatalog
{
    /// <summary>Label values, indexed as <see cref="IndexOf"/> returns; the last one is "other".</summary>
    public static readonly string[] Names;

    /// <summary>Index of "other", the label of every path outside the two services.</summary>
    public static readonly int Other;

    private static readonly FrozenDictionary<string, int> ByPath;

    static RpcCatalog()
    {
        ProtoService[] services = [ControlPlane.ControlPlane.Descriptor, CartActor.Cart.V1.CartService.Descriptor];
        var paths = services.SelectMany(s => s.Methods.Select(m => (Path: $"/{s.FullName}/{m.Name}", m.Name))).ToArray();
        var names = paths.Select(p => p.Name).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
        {
            throw new InvalidOperationException("Two services share a method name; RPC labels would be ambiguous.");
        }

        names.Add("other");
        Names = [.. names];
        Other = Names.Length - 1;
        ByPath = paths.Select((p, i) => (p.Path, i)).ToFrozenDictionary(x => x.Path, x => x.i, StringComparer.Ordinal);
    }

    /// <summary>The label index of a gRPC path such as "/controlplane.ControlPlane/Apply"; <see cref="Other"/> when unknown.</summary>
    public static int IndexOf(string path) => ByPath.TryGetValue(path, out var index) ? index : Other;
}
