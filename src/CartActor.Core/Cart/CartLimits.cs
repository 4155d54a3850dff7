namespace CartActor.Cart;

/// <summary>
/// Hard bounds on what one cart may hold. They keep every cart's memory, encoded size and money
/// arithmetic bounded whatever a client sends (a line total can never overflow an int64).
/// </summary>
public static class CartLimits
{
    public const int MaxQuantityPerLine = 999;
    public const int MaxLines = 200;
    public const int MaxDeliveries = 20;
    public const int MaxVouchers = 20;
    public const int MaxTaxRate = 10_000;

    /// <summary>10^12 minor units: 10 billion in a two-decimal currency; x 999 x 200 lines stays far below int64.</summary>
    public const long MaxPrice = 1_000_000_000_000;

    public const int MaxTextLength = 1024;

    /// <summary>Attributes per cart and per line (SetCartAttributes, SetItemAttributes).</summary>
    public const int MaxAttributes = 32;

    public const int MaxAttributeKeyLength = 64;

    public const int MaxAttributeValueLength = 512;
}
