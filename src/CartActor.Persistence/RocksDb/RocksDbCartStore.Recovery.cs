using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using RocksDbSharp;
using NativeDb = RocksDbSharp.RocksDb;

namespace CartActor.Persistence.RocksDb;

/// <summary>
/// Recovery from a failed write. RocksDB answers a failed write-ahead-log append (a full disk, an I/O error)
/// by latching a background error: every later write fails with it until the database is resumed, and its C
/// API has no resume. So the first failed write starts an episode: writes fail fast naming its cause (they
/// never reach the latched database), reads go on, and one background loop, on a backoff, probes with a
/// write and, while that fails, closes and reopens the database (the reopen replays the log, so nothing
/// acknowledged is lost) until a write succeeds; after a full disk, only once the file system has room again.
/// Owned by this partial: <c>_fault</c> (set by the write that starts an episode, cleared by the loop alone,
/// under the exclusive gate) and the episode counters.
/// </summary>
public sealed partial class RocksDbCartStore
{
    // First retry soon (a transient error heals at once), then back off so a full disk is not hammered with
    // reopens; the cap bounds how long writes stay refused after the cause is gone.
    private static readonly TimeSpan FirstRecoveryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRecoveryDelay = TimeSpan.FromSeconds(2);

    // RocksDB's text for ENOSPC (its IOStatus::NoSpace carries the OS message).
    private const string NoSpaceMessage = "No space left on device";

    // Free space a disk-full episode waits for before it tries to write again: room for the write-ahead log to
    // grow and a memtable flush. Capped at a tenth of the file system.
    private const long MaxRecoveryHeadroomBytes = 64L * 1024 * 1024;

    // The probe writes a tombstone for a key no cart can have (cart keys are 8 bytes; the sweep skips others),
    // so it leaves nothing behind that a reader could see.
    private static readonly byte[] ProbeKey = [0x00];

    private readonly CancellationTokenSource _closing = new();
    private volatile string? _fault;
    private string? _lastWriteFault;
    private long _writeFaults;
    private long _recoveryAttempts;

    /// <summary>False while writes are refused (an episode: a write failed and no write has succeeded since).</summary>
    public bool IsAvailable => _fault is null;

    /// <summary>Episodes since the store opened: each began with a failed write and ends when a write succeeds again.</summary>
    public long WriteFaults => Interlocked.Read(ref _writeFaults);

    /// <summary>The cause of the latest episode (RocksDB's message), kept after it healed; null before any.</summary>
    public string? LastWriteFault => Volatile.Read(ref _lastWriteFault);

    /// <summary>Recovery attempts (probe, then reopen when the probe fails) since the store opened.</summary>
    public long RecoveryAttempts => Interlocked.Read(ref _recoveryAttempts);

    /// <summary>Fails the caller at once while an episode lasts: one volatile read on the write path.</summary>
    private void ThrowIfFaulted()
    {
        if (_fault is { } fault)
        {
            ThrowRefused(fault);
        }
    }

    /// <summary>Starts an episode unless one is on; exactly one caller starts the recovery loop.</summary>
    private void EnterFault(string cause)
    {
        if (Interlocked.CompareExchange(ref _fault, cause, null) is not null)
        {
            return;
        }

        Volatile.Write(ref _lastWriteFault, cause);
        Interlocked.Increment(ref _writeFaults);
        _ = Task.Run(RecoverAsync);
    }

    private async Task RecoverAsync()
    {
        var delay = FirstRecoveryDelay;
        while (true)
        {
            try
            {
                await Task.Delay(delay, _closing.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (TryRecover())
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRecoveryDelay.Ticks));
        }
    }

    /// <summary>
    /// One attempt, alone on the gate (no write or read runs against a database being closed): a probe write on
    /// the open database; when that fails, a reopen and the probe again. True when the episode is over (healed,
    /// or the store closed).
    /// </summary>
    private bool TryRecover()
    {
        // A reopen on a full disk frees a little (the log's unused tail) and a probe then succeeds, only for the
        // next writes to fill it again: the node would flap between ready and not. So a disk-full episode waits
        // for real room first, checked without the gate (reads go on meanwhile).
        if (_fault is { } fault && fault.Contains(NoSpaceMessage, StringComparison.Ordinal) && !HasHeadroom())
        {
            Interlocked.Increment(ref _recoveryAttempts);
            return false;
        }

        _gate.EnterWriteLock();
        try
        {
            if (_disposed)
            {
                return true;
            }

            Interlocked.Increment(ref _recoveryAttempts);
            if (_db is not null && Probe(_db))
            {
                _fault = null;
                return true;
            }

            // Until the reopen succeeds there is no database: reads fail as unavailable too, for that moment.
            _db?.Dispose();
            _db = null;
            try
            {
                _db = OpenNative(_dbOptions, Path);
            }
            catch (RocksDbException)
            {
                return false;
            }

            if (!Probe(_db))
            {
                return false;
            }

            _fault = null;
            return true;
        }
        finally
        {
            _gate.ExitWriteLock();
        }
    }

    /// <summary>
    /// Room to work in: <see cref="MaxRecoveryHeadroomBytes"/> free, or a tenth of a smaller file system (so a small
    /// volume can recover too). True when the file system cannot be asked (recovery then relies on the probe).
    /// </summary>
    private bool HasHeadroom()
    {
        try
        {
            var drive = new DriveInfo(Path);
            return drive.AvailableFreeSpace >= Math.Min(MaxRecoveryHeadroomBytes, drive.TotalSize / 10);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return true;
        }
    }

    private bool Probe(NativeDb db)
    {
        try
        {
            db.Remove(ProbeKey, null, _writeOptions);
            return true;
        }
        catch (RocksDbException)
        {
            return false;
        }
    }

    [DoesNotReturn]
    [StackTraceHidden]
    private void ThrowRefused(string fault) => throw Refused(fault);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private CartStoreException Refused(string fault) =>
        new(
            CartStoreError.Unavailable,
            $"the RocksDB store '{Path}' refuses writes since one failed ({fault}); it retries by itself and takes writes again once the cause is gone; nothing was stored");
}
