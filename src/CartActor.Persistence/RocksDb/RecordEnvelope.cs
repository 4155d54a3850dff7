using System.Buffers.Binary;
using System.IO.Hashing;
using CartActor.Cart.Messages;
using Google.Protobuf;

namespace CartActor.Persistence.RocksDb;

/// <summary>
/// The bytes a cart's key holds. Version 1:
/// <code>
/// [0]          format, 1
/// [1, 9)       state.updated_at_unix_ms, int64 little-endian: the retention sweep reads it without parsing the record
/// [9, n - 4)   the CartRecord protobuf
/// [n - 4, n)   CRC-32 (IEEE) of bytes [0, n - 4), little-endian: a flipped bit fails that cart, not the node
/// </code>
/// A new layout takes a new format byte; readers refuse formats they do not know rather than guess.
/// </summary>
internal static class RecordEnvelope
{
    public const byte Format1 = 1;
    private const int UpdatedAtOffset = 1;
    private const int HeaderSize = 9;
    private const int ChecksumSize = 4;

    /// <summary>The envelope's size around a record of <paramref name="payloadSize"/> bytes.</summary>
    public static int SizeOf(int payloadSize) => HeaderSize + payloadSize + ChecksumSize;

    /// <summary>Writes the envelope of <paramref name="record"/> into exactly <see cref="SizeOf"/>(<paramref name="payloadSize"/>) bytes.</summary>
    public static void Encode(CartRecord record, int payloadSize, Span<byte> destination)
    {
        destination[0] = Format1;
        BinaryPrimitives.WriteInt64LittleEndian(destination[UpdatedAtOffset..], record.State?.UpdatedAtUnixMs ?? 0);
        record.WriteTo(destination.Slice(HeaderSize, payloadSize));
        var checksummed = destination[..^ChecksumSize];
        BinaryPrimitives.WriteUInt32LittleEndian(destination[^ChecksumSize..], Crc32.HashToUInt32(checksummed));
    }

    /// <summary>
    /// Checks the frame (length, format, checksum) and exposes its parts without parsing the record; null when
    /// the frame is sound, otherwise why it is not.
    /// </summary>
    public static string? Check(ReadOnlySpan<byte> value, out long updatedAtUnixMs, out ReadOnlySpan<byte> payload)
    {
        updatedAtUnixMs = 0;
        payload = default;
        if (value.Length < HeaderSize + ChecksumSize)
        {
            return value.Length == 0 ? "the value is empty" : $"the value is {value.Length} bytes, shorter than any envelope";
        }

        if (value[0] != Format1)
        {
            return $"unknown envelope format {value[0]}";
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(value[^ChecksumSize..]);
        if (Crc32.HashToUInt32(value[..^ChecksumSize]) != stored)
        {
            return "the checksum does not match";
        }

        updatedAtUnixMs = BinaryPrimitives.ReadInt64LittleEndian(value[UpdatedAtOffset..]);
        payload = value[HeaderSize..^ChecksumSize];
        return null;
    }
}
