using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Tests.Shared;
using Google.Protobuf;
using Grpc.Core;
using AddItem = CartActor.Cart.Messages.AddItem;
using ChangeQuantity = CartActor.Cart.Messages.ChangeQuantity;

namespace CartActor.Node.Tests.Conformance;

/// <summary>
/// The storefront's typed CartService (GetCart, Mutate) in the conformance table: served by the minimal endpoint on
/// one node of the pair, by Grpc.AspNetCore on the other, and the answers must be the same text (the ETag header
/// included). A call with If-Match goes to Grpc.AspNetCore on both nodes; it is here so that it stays so.
/// </summary>
internal static class StorefrontConformanceCases
{
    private const string GetCart = "/cartactor.cart.v1.CartService/GetCart";
    private const string Mutate = "/cartactor.cart.v1.CartService/Mutate";

    public static readonly ConformanceCase[] All =
    [
        new("typed raw: GetCart of a cart never written", StatusCode.OK, (node, id) => ConformanceCases.Raw(node, GetCart, Get(id))),
        new("typed raw: Mutate", StatusCode.OK, (node, id) => ConformanceCases.Raw(node, Mutate, Batch(id))),
        new("typed raw: Mutate then GetCart", StatusCode.OK, async (node, id) =>
        {
            await ConformanceCases.Raw(node, Mutate, Batch(id));
            return await ConformanceCases.Raw(node, GetCart, Get(id));
        }),
        new("typed raw: Mutate with a refused mutation (an outcome with its error)", StatusCode.OK, (node, id) =>
            ConformanceCases.Raw(node, Mutate, Batch(id, new Mutation { RemoveItem = new RemoveItem { ItemId = 77 } }))),
        new("typed raw: Mutate with the expected version", StatusCode.OK, (node, id) => ConformanceCases.Raw(node, Mutate, Batch(id, expectedVersion: 0))),
        new("typed raw: Mutate with another expected version", StatusCode.Aborted, (node, id) => ConformanceCases.Raw(node, Mutate, Batch(id, expectedVersion: 5))),
        new("typed raw: Mutate with If-Match (Grpc.AspNetCore on both)", StatusCode.Aborted, (node, id) =>
            ConformanceCases.Raw(node, Mutate, Batch(id), [("if-match", "\"5\"")])),
        new("typed raw: Mutate idempotency replay", StatusCode.OK, async (node, id) =>
        {
            var first = await ConformanceCases.Raw(node, Mutate, Batch(id), [("idempotency-key", "k-typed")]);
            var second = await ConformanceCases.Raw(node, Mutate, Batch(id), [("idempotency-key", "k-typed")]);
            Assert.Equal(first, second);
            return second;
        }),
        new("typed frames: Mutate with idempotency-key sent twice", StatusCode.InvalidArgument, (node, id) =>
            ConformanceCases.Frames(node, Mutate, BatchMessage(id).ToByteArray(), [("idempotency-key", "k-a"), ("idempotency-key", "k-b")])),
        new("typed raw: Mutate without mutations", StatusCode.InvalidArgument, (node, id) =>
            ConformanceCases.Raw(node, Mutate, RawGrpc.Frame(new MutateRequest { CartId = id }.ToByteArray()))),
        new("typed raw: Mutate with an empty mutation", StatusCode.InvalidArgument, (node, id) =>
            ConformanceCases.Raw(node, Mutate, Batch(id, new Mutation()))),
        new("typed raw: Mutate of cart id 0", StatusCode.InvalidArgument, (node, _) => ConformanceCases.Raw(node, Mutate, Batch(0))),
        new("typed raw: GetCart of cart id 0", StatusCode.InvalidArgument, (node, _) => ConformanceCases.Raw(node, GetCart, Get(0))),
        new("typed raw: GetCart garbage protobuf", StatusCode.InvalidArgument, (node, _) =>
            ConformanceCases.Raw(node, GetCart, RawGrpc.Frame([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))),
        new("typed raw: Mutate over the size limit", StatusCode.ResourceExhausted, (node, _) =>
            ConformanceCases.Raw(node, Mutate, RawGrpc.Frame(new byte[ConformancePair.MaxMessageSize + 1]))),
        new("typed raw: GetCart peer mark without the cluster key", StatusCode.Unauthenticated, (node, id) =>
            ConformanceCases.Raw(node, GetCart, Get(id), [("x-cart-hop", "1")])),
        new("typed raw: Mutate grpc-timeout passes while the body has not arrived", StatusCode.DeadlineExceeded, (node, _) =>
            RawGrpc.ExchangeAsync(ConformanceCases.Http, RawGrpc.Request(node.GrpcPort, Mutate, new RawGrpc.StalledBody(), [("grpc-timeout", "300m")]))),
        new("typed client: Mutate then GetCart", StatusCode.OK, async (node, id) =>
        {
            var client = new CartService.CartServiceClient(node.Channel);
            var mutated = await ConformanceCases.Client(() => client.MutateAsync(BatchMessage(id)));
            return mutated + await ConformanceCases.Client(() => client.GetCartAsync(new GetCartRequest { CartId = id }));
        }),
    ];

    private static MutateRequest BatchMessage(ulong id, Mutation? extra = null, ulong? expectedVersion = null)
    {
        var request = new MutateRequest { CartId = id };
        request.Mutations.Add(new Mutation { AddItem = new AddItem { Sku = "sku-t", Name = "Typed", Quantity = 1, UnitPrice = 1000, TaxRate = 2500 } });
        request.Mutations.Add(new Mutation { ChangeQuantity = new ChangeQuantity { ItemId = 1, Quantity = 2 } });
        if (extra is not null)
        {
            request.Mutations.Add(extra);
        }

        if (expectedVersion is { } version)
        {
            request.ExpectedVersion = version;
        }

        return request;
    }

    private static byte[] Batch(ulong id, Mutation? extra = null, ulong? expectedVersion = null) =>
        RawGrpc.Frame(BatchMessage(id, extra, expectedVersion).ToByteArray());

    private static byte[] Get(ulong id) => RawGrpc.Frame(new GetCartRequest { CartId = id }.ToByteArray());
}
