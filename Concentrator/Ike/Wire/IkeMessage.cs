namespace Concentrator.Ike.Wire;

/// <summary>
/// A decoded IKE message: the header and its payloads in order. After the SK payload is opened
/// (<c>IkeMessageProtector.TryOpen</c>) <see cref="Payloads"/> holds the inner payloads instead of
/// the <see cref="EncryptedPayload"/>.
/// </summary>
public sealed class IkeMessage
{
    public IkeMessage(IkeHeader header, List<Payload> payloads)
    {
        Header = header;
        Payloads = payloads;
    }

    public IkeHeader Header { get; set; }
    public List<Payload> Payloads { get; }

    public T? Get<T>() where T : Payload
    {
        foreach (var p in Payloads)
        {
            if (p is T t) return t;
        }
        return null;
    }

    public T? Get<T>(PayloadType type) where T : Payload
    {
        foreach (var p in Payloads)
        {
            if (p.Type == type && p is T t) return t;
        }
        return null;
    }

    public IEnumerable<T> GetAll<T>() where T : Payload
    {
        foreach (var p in Payloads)
        {
            if (p is T t) yield return t;
        }
    }

    public NotifyPayload? GetNotify(NotifyType type)
    {
        foreach (var p in Payloads)
        {
            if (p is NotifyPayload n && n.NotifyType == type) return n;
        }
        return null;
    }

    /// <summary>The first error notify (type below 16384), if any.</summary>
    public NotifyPayload? GetErrorNotify()
    {
        foreach (var p in Payloads)
        {
            if (p is NotifyPayload n && n.IsError) return n;
        }
        return null;
    }
}
