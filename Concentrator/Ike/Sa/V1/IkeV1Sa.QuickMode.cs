using System.Net;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Tasks.V1;

namespace Concentrator.Ike.Sa.V1;

// Quick mode's side of the phase 1 SA: the Child SAs it negotiated (by inbound SPI), the initiator's first children once
// phase 1 is up, and rekeying (RekeyChild from the Child SA's soft lifetime).
public sealed partial class IkeV1Sa
{
    private readonly Dictionary<uint, QuickModeEntry> _quickChildren = [];

    /// <summary>A Child SA quick mode installed, and whether a newer one with the same child and selectors replaced it.</summary>
    internal sealed class QuickModeEntry(QuickModeChild child)
    {
        public QuickModeChild Child { get; } = child;
        public bool Rekeyed { get; set; }
    }

    /// <summary>The Child SAs quick mode installed on this SA and has not seen removed, by inbound SPI.</summary>
    internal IReadOnlyDictionary<uint, QuickModeEntry> QuickModeChildren => _quickChildren;

    /// <summary>The context quick mode works in, over this SA's keys and endpoints.</summary>
    internal IQuickModeContext QuickModeContext => _quickModeContext ??= new QuickModeSaContext(this);
    private QuickModeSaContext? _quickModeContext;

    partial void OnEstablished()
    {
        if (!IsInitiator) return;
        foreach (var child in InitialChildren) QuickMode.Start(this, child, replacing: null);
    }

    partial void OnRekeyChild(uint inboundSpi)
    {
        // A Child SA already replaced (by our rekey or the peer's) is not rekeyed again: it waits for its Delete or expiry.
        if (!_quickChildren.TryGetValue(inboundSpi, out var entry) || entry.Rekeyed) return;
        if (Exchanges.Count >= V1ExchangeStates.MaxExchanges) return;
        QuickMode.Start(this, entry.Child.Child, entry.Child);
    }

    /// <summary>True when <paramref name="child"/> has the child and selectors of a Child SA not yet replaced: a rekey.</summary>
    internal bool IsQuickModeRekey(QuickModeChild child) => FindReplaced(child) is not null;

    /// <summary>Child SAs of this SA still in the data plane (removed ones are forgotten here).</summary>
    internal int LiveQuickModeChildren()
    {
        foreach (var spi in _quickChildren.Keys.ToList())
        {
            if (!Context.DataPlane.TryGetCounters(spi, out _)) _quickChildren.Remove(spi);
        }
        return _quickChildren.Count;
    }

    private QuickModeEntry? FindReplaced(QuickModeChild child)
    {
        foreach (var e in _quickChildren.Values)
        {
            if (!e.Rekeyed && e.Child.Child.Name == child.Child.Name &&
                e.Child.Install.LocalTs.SequenceEqual(child.Install.LocalTs) && e.Child.Install.RemoteTs.SequenceEqual(child.Install.RemoteTs))
            {
                return e;
            }
        }
        return null;
    }

    /// <summary>
    /// Records a newly installed Child SA; an older one of the same child with the same selectors is marked rekeyed (the
    /// peer's rekey is a second quick mode with the same IDs, RFC 2409 has no REKEY_SA) and returned.
    /// </summary>
    internal QuickModeEntry? AddQuickModeChild(QuickModeChild child)
    {
        var replaced = FindReplaced(child);
        if (replaced is not null) replaced.Rekeyed = true;
        _quickChildren[child.InboundSpi] = new QuickModeEntry(child);
        return replaced;
    }

    // The SA lifetime each quick mode agreed (RFC 2407 §4.5 SA Life, seconds), by inbound SPI, until the host installs it.
    private readonly Dictionary<uint, uint> _negotiatedLife = [];

    /// <summary>Quick mode hands the host a Child SA whose agreed lifetime is <paramref name="terms"/>' (both ends keep it).</summary>
    internal void EmitQuickModeInstall(QuickModeChild child)
    {
        if (_negotiatedLife.Count >= V1ExchangeStates.MaxExchanges) _negotiatedLife.Clear();
        _negotiatedLife[child.InboundSpi] = child.Terms.LifeSeconds;
        Emit(new ChildSaEstablished(child.Install));
    }

    /// <summary>The host, installing a quick mode Child SA: the lifetime both ends agreed, which caps the child's own.</summary>
    public TimeSpan? TakeNegotiatedChildLife(uint inboundSpi) =>
        _negotiatedLife.Remove(inboundSpi, out uint seconds) ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>Forgets a Child SA the host removed (its Delete or its expiry).</summary>
    internal void ForgetQuickModeChild(uint inboundSpi) => _quickChildren.Remove(inboundSpi);

    private sealed class QuickModeSaContext(IkeV1Sa sa) : IQuickModeContext
    {
        public Prf Prf => sa.Prf!;
        public byte[] SkeyidA => sa.SkeyidA;
        public byte[] SkeyidD => sa.SkeyidD;
        public IPEndPoint LocalEndpoint => sa.LocalEndpoint;
        public IPEndPoint RemoteEndpoint => sa.RemoteEndpoint;
        public bool NatDetected => sa.NatDetected;
        public bool DraftNatT => sa.NatTVersion is NatTVersion.Draft02 or NatTVersion.Draft02N or NatTVersion.Draft03;
        public string ConnectionName => sa.Connection?.Name ?? "";
        public IReadOnlyCollection<ChildConfig> Children => (IReadOnlyCollection<ChildConfig>?)sa.Connection?.Children.Values ?? [];
        public uint AllocateSpi() => sa.Context.DataPlane.AllocateSpi();
        public void ReleaseSpi(uint spi) => sa.Context.DataPlane.ReleaseSpi(spi);
        public byte[] NewNonce() => sa.Context.NonceSource(sa.Context.Tunables.NonceLength);
    }
}
