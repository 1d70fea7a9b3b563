namespace Concentrator.Ike.Sa.V1;

// What the host asks of an established phase 1 SA about its Child SAs (quick mode's). The host calls these on the
// lifetimes of each installed Child SA; quick mode (v1quick) and informational (v1info) implement the partial methods
// in their own files. Without an implementation the request is ignored (the Child SA's hard lifetime still removes it).
public sealed partial class IkeV1Sa
{
    /// <summary>A Child SA reached its soft lifetime: quick mode negotiates its successor.</summary>
    public void RekeyChild(uint inboundSpi)
    {
        if (State == V1Phase1State.Established) OnRekeyChild(inboundSpi);
    }

    /// <summary>A Child SA expired or is to go: the informational exchange tells the peer (Delete), then <see cref="ChildSaRemoved"/>.</summary>
    public void DeleteChild(uint inboundSpi)
    {
        bool handled = false;
        if (State == V1Phase1State.Established) OnDeleteChild(inboundSpi, ref handled);
        if (!handled) Emit(new ChildSaRemoved(inboundSpi));
    }

    /// <summary>v1quick: start a quick mode that rekeys the Child SA with this inbound SPI.</summary>
    partial void OnRekeyChild(uint inboundSpi);

    /// <summary>v1info: send the IPsec Delete for the Child SA and emit its <see cref="ChildSaRemoved"/> (set <paramref name="handled"/>).</summary>
    partial void OnDeleteChild(uint inboundSpi, ref bool handled);

    /// <summary>v1quick: the initiator's children once phase 1 is established (<see cref="InitialChildren"/>).</summary>
    partial void OnEstablished();
}
