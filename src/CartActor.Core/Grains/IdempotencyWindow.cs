using System.IO.Hashing;
using System.Runtime.InteropServices;
using CartActor.Cart;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Grains;

/// <summary>
/// The idempotency window of one cart: the entries of its record, touched only by the cart's shard.
/// An entry is compact: the key, a digest of the request, the version the first call produced and the
/// mutations it refused (errors bounded to <see cref="MaxRecordedErrorLength"/> characters), never the
/// echoed payloads (a window of whole replies let 70 refused 1 MiB payloads grow one record to 70 MiB).
/// A replay rebuilds the reply from the repeated request itself (the digest proves it is the same one), the
/// recorded results and the cart's current state. The window is bounded in keys and in bytes.
/// </summary>
internal static class IdempotencyWindow
{
    /// <summary>Recorded error texts longer than this are cut (with "..."); the first reply carried them whole.</summary>
    public const int MaxRecordedErrorLength = 256;

    /// <summary>
    /// Looks <paramref name="key"/> up. True with the reply to give (its State set only for an entry of the old
    /// format, which stored the whole reply) when the key is known; false when it is not.
    /// </summary>
    /// <exception cref="CartRuntimeException">The key was first used for a different request (INVALID_ARGUMENT, naming the key).</exception>
    public static bool TryReplay(CartRecord record, string key, IReadOnlyList<Any> mutations, MutationRegistry registry, ref byte[]? digest, out ApplyResult reply)
    {
        var entries = record.Idempotency;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (!string.Equals(entry.Key, key, StringComparison.Ordinal))
            {
                continue;
            }

            if (entry.RequestDigest.IsEmpty)
            {
                // Written before the compact format: it holds the reply itself and no digest to compare.
                reply = ApplyResult.Parser.ParseFrom(entry.Result);
                return true;
            }

            digest ??= Digest(record.State.Id, mutations);
            if (!entry.RequestDigest.Span.SequenceEqual(digest))
            {
                throw new CartRuntimeException(CartRequestError.InvalidArgument,
                    $"idempotency-key '{key}' was already used for a different request on cart {record.State.Id}; a new request needs a new key");
            }

            reply = Rebuild(entry, mutations, registry);
            return true;
        }

        reply = null!;
        return false;
    }

    /// <summary>
    /// Remembers what a call that changed the cart did. The oldest entries make room: at most
    /// <see cref="CartRuntimeOptions.IdempotencyWindow"/> keys and <see cref="CartRuntimeOptions.IdempotencyWindowBytes"/>
    /// bytes (the newest entry is always kept, so the call just made can be retried safely).
    /// <paramref name="size"/> is the grain's running byte total of the window: summing every entry's size on every
    /// call cost a full window (128 entries, each key's UTF-8 length counted) per keyed Apply, and on a shared store
    /// every Apply is keyed (the node generates a key so that a retry after an unknown outcome applies once): about
    /// 8 % of the node's CPU under perfmatrix's Redis load. The total is recomputed whenever the window is not the one
    /// it was computed for (another count, first or last entry), so a record that changed otherwise is still counted right.
    /// </summary>
    public static void Remember(CartRecord record, string key, byte[] digest, ApplyResult result, ulong version, CartRuntimeOptions options, ref WindowSize size)
    {
        var entry = new IdempotencyEntry { Key = key, RequestDigest = ByteString.CopyFrom(digest), Version = version };
        var mutations = result.Mutations;
        for (var i = 0; i < mutations.Count; i++)
        {
            if (mutations[i].HasError)
            {
                entry.Refused.Add(new RefusedMutation { Index = (uint)i, Error = Bounded(mutations[i].Error) });
            }
        }

        var entries = record.Idempotency;
        var entryBytes = entry.CalculateSize();
        var budget = options.IdempotencyWindowBytes - entryBytes;
        var used = size.Describes(entries) ? size.Bytes : Sum(entries);
        var drop = 0;
        while (drop < entries.Count && (entries.Count - drop >= options.IdempotencyWindow || used > budget))
        {
            used -= entries[drop].CalculateSize();
            drop++;
        }

        for (var i = 0; i < drop; i++)
        {
            entries.RemoveAt(0);
        }

        entries.Add(entry);
        size = new WindowSize(used + entryBytes, entries.Count, entries[0], entry);
    }

    private static long Sum(Google.Protobuf.Collections.RepeatedField<IdempotencyEntry> entries)
    {
        var used = 0L;
        foreach (var existing in entries)
        {
            used += existing.CalculateSize();
        }

        return used;
    }

    /// <summary>XxHash128 over the cart id and every mutation's type URL and value, each length-prefixed.</summary>
    public static byte[] Digest(ulong cartId, IReadOnlyList<Any> mutations)
    {
        var hash = new XxHash128();
        Span<byte> scratch = stackalloc byte[8];
        BitConverter.TryWriteBytes(scratch, cartId);
        hash.Append(scratch);
        BitConverter.TryWriteBytes(scratch, (long)mutations.Count);
        hash.Append(scratch);
        for (var i = 0; i < mutations.Count; i++)
        {
            var typeUrl = MemoryMarshal.AsBytes(mutations[i].TypeUrl.AsSpan());
            BitConverter.TryWriteBytes(scratch, (long)typeUrl.Length);
            hash.Append(scratch);
            hash.Append(typeUrl);
            var value = mutations[i].Value.Span;
            BitConverter.TryWriteBytes(scratch, (long)value.Length);
            hash.Append(scratch);
            hash.Append(value);
        }

        return hash.GetCurrentHash();
    }

    private static ApplyResult Rebuild(IdempotencyEntry entry, IReadOnlyList<Any> mutations, MutationRegistry registry)
    {
        var reply = new ApplyResult();
        var refused = 0;
        for (var i = 0; i < mutations.Count; i++)
        {
            var result = new MutationResult { Type = registry.TypeName(mutations[i].TypeUrl), Message = mutations[i] };
            if (refused < entry.Refused.Count && entry.Refused[refused].Index == (uint)i)
            {
                result.Error = entry.Refused[refused++].Error;
            }

            reply.Mutations.Add(result);
        }

        return reply;
    }

    private static string Bounded(string error) =>
        error.Length <= MaxRecordedErrorLength ? error : string.Concat(error.AsSpan(0, MaxRecordedErrorLength - 3), "...");
}

/// <summary>
/// A window's byte total (the sum of its entries' sizes) and the window it was computed for: its count and its first
/// and last entry. Only <see cref="IdempotencyWindow.Remember"/> changes a live window, and it keeps this current.
/// </summary>
internal readonly record struct WindowSize(long Bytes, int Count, IdempotencyEntry? First, IdempotencyEntry? Last)
{
    public bool Describes(Google.Protobuf.Collections.RepeatedField<IdempotencyEntry> entries) =>
        Count == entries.Count && Count > 0 && ReferenceEquals(First, entries[0]) && ReferenceEquals(Last, entries[Count - 1]);
}
