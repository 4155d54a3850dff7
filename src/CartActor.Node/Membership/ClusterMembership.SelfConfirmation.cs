using CartActor.ControlPlane;
using CartActor.Ownership;

namespace CartActor.Node.Membership;

/// <summary>Self-confirmation: whether every peer counts this node, so that it serves its own carts.</summary>
internal sealed partial class ClusterMembership
{
    /// <summary>True once every peer counts this node as a member: only then does it serve its own carts.</summary>
    public bool IsConfirmed => _selfConfirmed;

    private void ConfirmSelf(NegotiateReply?[] replies)
    {
        // Counted by every peer that answered (its healthy hosts name this node): serve this node's own carts.
        // A peer that stops counting it (it found this node silent) takes them back to their stand-ins.
        var self = _view.Self;
        var confirmed = replies.All(r => r is null || r.Hosts.Any(h => RingSnapshot.Normalize(h) == self));
        if (confirmed != _selfConfirmed)
        {
            lock (_gate)
            {
                _selfConfirmed = confirmed;
                PublishLocked();
            }
        }
    }
}
