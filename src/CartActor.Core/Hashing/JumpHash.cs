namespace CartActor.Hashing;

/// <summary>
/// Jump consistent hashing (Lamping and Veach, 2014): maps a 64-bit key to one of <c>buckets</c> buckets
/// uniformly, moving only 1/n of keys when the bucket count grows by one. Used with a fixed bucket count
/// (the ring's slots), so it is a stable, uniform cart -> slot map.
/// </summary>
public static class JumpHash
{
    public static int Bucket(ulong key, int buckets)
    {
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = unchecked((key * 2862933555777941757UL) + 1);
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }

        return (int)b;
    }
}
