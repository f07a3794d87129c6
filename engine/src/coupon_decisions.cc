// Coupon decisions: a claim (the duplicate check, the unit, the event, the commit), a coupon's
// redeem and restore, and reads of a user's claim.
#include "engine_impl.h"

namespace hotdeal::engine {
namespace {

// A claim as its ledger record shows it, with its id tagged for the client.
Claim ClaimView(const Campaign& campaign, const UserId& user, const detail::ClaimRecord& record) {
  ClaimId id{record.id.value, campaign.ids().Tag(record.id.value)};
  const CouponTerms& terms = campaign.spec().terms;
  return Claim{id,
               campaign.spec().id,
               user,
               detail::MakeCouponCode(campaign.index(), record.code.secret()),
               record.created_at,
               terms,
               terms.ExpiresAt(record.created_at),
               record.redeemed};
}

// Whether two codes' secrets are equal, in the same time wherever they differ (a client must not
// find a code a character at a time by timing, as for id tags).
bool SameSecret(std::string_view a, std::string_view b) {
  HOTDEAL_DEBUG_ASSERT(a.size() == CouponCode::kSecretSize && b.size() == a.size());
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

// What a claim's holder hears instead of `final` while the claim is in doubt or unacknowledged.
constexpr Outcome HeldOutcome(CouponHold state, Outcome final) {
  if (state == CouponHold::kInDoubt) return Outcome::kInDoubt;
  if (state == CouponHold::kUnacked) return Outcome::kPending;
  return final;
}

}  // namespace

// ---- coupons -------------------------------------------------------------------------------

Decision<Claim> Engine::Impl::ClaimCoupon(WorkerId worker, const CampaignId& id, const UserId& user,
                                          const std::optional<IdempotencyKey>& key, TimePoint now) {
  HOTDEAL_DEBUG_ASSERT(worker.value < options_.workers);
  constexpr Operation kOperation = Operation::kClaim;
  Campaign* campaign = FindFor(worker.value, id);
  if (!campaign) return Decide<Claim>(worker, kOperation, Outcome::kNotFound);
  if (campaign->spec().kind != CampaignKind::kCoupon) {
    return Decide<Claim>(worker, kOperation, Outcome::kConflict);
  }
  // In an archive attempt (FindFor): only an ended campaign is tried.
  if (!campaign->serving()) return Decide<Claim>(worker, kOperation, Outcome::kEnded);
  KeyHold key_hold(*keys_);
  KeyReplay replay;
  if (Outcome keyed = BeginKey(*campaign, user, key, now, key_hold, replay);
      keyed == Outcome::kOverCapacity) {
    return Decide<Claim>(worker, kOperation, keyed);
  } else if (keyed == Outcome::kReplayed) {
    Decision<Claim> first = ClaimOf(*campaign, user);
    if (first.value && first.value->id.value == replay.first_id) {
      if (first.outcome == Outcome::kPending)
        return Decide<Claim>(worker, kOperation, first.outcome);
      Outcome again = first.outcome == Outcome::kInDoubt ? Outcome::kInDoubt : Outcome::kReplayed;
      return Decide<Claim>(worker, kOperation, again, *first.value);
    }
    // The claim the key made was undone since (reverted, or voided in doubt): its client heard
    // 503, so this retry is decided afresh under the key. Another retry reclaiming it first is
    // deciding now.
    if (!key_hold.Reclaim(replay.ref, replay.first_id, now)) {
      return Decide<Claim>(worker, kOperation, Outcome::kPending);
    }
  }
  if (Outcome window = campaign->Window(now); window != Outcome::kOk) {
    return Decide<Claim>(worker, kOperation, window);
  }
  // The sold-out fast path: after a sell-out a rejection costs this plus the lookup, and the
  // filter answers for users without a claim. A holder retrying without a key hears
  // kAlreadyClaimed with its claim (API.md), found by a ledger probe made only on a filter hit.
  if (campaign->stock().SoldOut()) {
    if (campaign->holders().MayHold(campaign->ledger().Hash(user))) {
      Decision<Claim> held = ClaimOf(*campaign, user);
      if (held.outcome == Outcome::kPending) return Decide<Claim>(worker, kOperation, held.outcome);
      if (held.value) {
        Outcome outcome =
            held.outcome == Outcome::kInDoubt ? Outcome::kInDoubt : Outcome::kAlreadyClaimed;
        return Decide<Claim>(worker, kOperation, outcome, *held.value);
      }
    }
    return Decide<Claim>(worker, kOperation, Outcome::kSoldOut);
  }
  CouponLedger& ledger = campaign->ledger();
  CouponLedger::Pending pending;
  detail::ClaimRecord record;
  CouponHold held = CouponHold::kNone;
  switch (ledger.Begin(user, pending, record, held)) {
    case CouponLedger::Begun::kFull:
      return Decide<Claim>(worker, kOperation, Outcome::kOverCapacity);
    case CouponLedger::Begun::kHeld: {
      Outcome outcome = HeldOutcome(held, Outcome::kAlreadyClaimed);
      if (outcome == Outcome::kPending) return Decide<Claim>(worker, kOperation, outcome);
      return Decide<Claim>(worker, kOperation, outcome, ClaimView(*campaign, user, record));
    }
    case CouponLedger::Begun::kPending:
      break;
  }
  // The user is marked pending: no duplicate can pass until this decision is settled, and a
  // failed take below unmarks the user, so losing the race leaves no trace (but a filter bit,
  // which only costs a probe). The bit is set before the take, whose seq_cst write the scan
  // that may set the sold-out flag reads, so a reader that sees the flag sees the bit.
  campaign->holders().Add(ledger.Hash(user));
  if (!campaign->stock().Take(worker.value, 1)) {
    ledger.Abort(pending);
    return Decide<Claim>(worker, kOperation, Outcome::kSoldOut);
  }
  std::uint64_t serial = campaign->NextSerial(worker.value);
  record.id = detail::MakeClaimId(campaign->index(), worker.value, serial);
  record.code = workers_[worker.value]->codes.Next(campaign->index());
  record.created_at = now;
  Event& event = DataEvent(worker.value, EventType::kClaimGranted,
                           detail::MakeSeq(serial, worker.value), now, id);
  event.user = user;
  event.claim_id = record.id;
  event.coupon_code = record.code;
  event.quantity = 1;
  event.idempotency_key = key;
  std::optional<LogTicket> ticket = Append(worker.value, event);
  if (!ticket) {
    campaign->stock().Give(worker.value, 1);
    ledger.Abort(pending);
    return Decide<Claim>(worker, kOperation, Outcome::kLogUnavailable);
  }
  ledger.Commit(pending, record,
                Unacknowledged(*ticket) ? CouponHold::kUnacked : CouponHold::kClaimed);
  campaign->Count(worker.value, Book::kClaimed, 1);
  key_hold.Finish(record.id.value);
  return Decide<Claim>(worker, kOperation, Outcome::kCreated, ClaimView(*campaign, user, record),
                       *ticket);
}

Decision<Claim> Engine::Impl::GetClaim(const CampaignId& id, const UserId& user) const {
  const Campaign* campaign = campaigns_.Find(id);
  if (!campaign || campaign->spec().kind != CampaignKind::kCoupon)
    return Answer<Claim>(Outcome::kNotFound);
  Decision<Claim> claim = ClaimOf(*campaign, user);
  if (claim.outcome == Outcome::kPending) claim.value.reset();  // not revealed until final
  return claim;
}

Campaign* Engine::Impl::FindCoupon(std::string_view code, const UserId& user, CouponHold& hold,
                                   detail::ClaimRecord& record) const {
  std::optional<std::uint32_t> index = detail::CouponCampaign(code);
  Campaign* campaign = index ? campaigns_.At(*index) : nullptr;
  if (!campaign || !campaign->visible() || campaign->spec().kind != CampaignKind::kCoupon)
    return nullptr;
  std::optional<detail::ClaimRecord> held = campaign->ledger().Read(user, &hold);
  if (!held || !SameSecret(held->code.secret(), code.substr(CouponCode::kPrefixSize)))
    return nullptr;
  record = *held;
  return campaign;
}

Decision<Claim> Engine::Impl::GetCoupon(std::string_view code, const UserId& user) const {
  CouponHold hold = CouponHold::kNone;
  detail::ClaimRecord record;
  const Campaign* campaign = FindCoupon(code, user, hold, record);
  if (!campaign) return Answer<Claim>(Outcome::kNotFound);
  Outcome outcome = HeldOutcome(hold, Outcome::kOk);
  if (outcome == Outcome::kPending) return Answer<Claim>(outcome);  // not revealed until final
  return Answer<Claim>(outcome, ClaimView(*campaign, user, record));
}

Decision<Claim> Engine::Impl::ChangeUse(WorkerId worker, std::string_view code, const UserId& user,
                                        const OrderRef& order, TimePoint now, bool redeem) {
  HOTDEAL_DEBUG_ASSERT(worker.value < options_.workers);
  const Operation operation = redeem ? Operation::kRedeemCoupon : Operation::kRestoreCoupon;
  CouponHold hold = CouponHold::kNone;
  detail::ClaimRecord record;
  Campaign* campaign = FindCoupon(code, user, hold, record);
  if (!campaign) return Decide<Claim>(worker, operation, Outcome::kNotFound);
  // As ConfirmOrder: no use moves while an archive attempt checks that none is left.
  if (!campaign->serving()) return Decide<Claim>(worker, operation, Outcome::kPending);
  if (hold != CouponHold::kClaimed) {
    return Decide<Claim>(worker, operation, HeldOutcome(hold, Outcome::kPending));
  }
  CouponLedger& ledger = campaign->ledger();
  const std::uint64_t order_fp = ledger.OrderFingerprint(order);
  Claim coupon = ClaimView(*campaign, user, record);
  // Only an issued coupon expires; redeeming one again on its order answers as before.
  if (redeem && coupon.StatusAt(now) == CouponStatus::kExpired) {
    return Decide<Claim>(worker, operation, Outcome::kExpired, coupon);
  }
  CouponLedger::UseChange change;
  switch (ledger.BeginUse(user, record.id, redeem, order_fp, change)) {
    case CouponLedger::UseBegun::kNotFound:
      return Decide<Claim>(worker, operation, Outcome::kNotFound);
    case CouponLedger::UseBegun::kUnsettled:
      return Decide<Claim>(worker, operation, Outcome::kPending);
    case CouponLedger::UseBegun::kUnchanged:
      coupon.redeemed = redeem;
      return Decide<Claim>(worker, operation, Outcome::kOk, coupon);
    case CouponLedger::UseBegun::kRefused:
      coupon.redeemed = redeem;  // the state that refused it: redeemed, or (restore) issued
      return Decide<Claim>(worker, operation,
                           redeem ? Outcome::kAlreadyRedeemed : Outcome::kConflict, coupon);
    case CouponLedger::UseBegun::kChanging:
      break;
  }
  Event& event = DataEvent(
      worker.value, redeem ? EventType::kCouponRedeemed : EventType::kCouponRestored,
      detail::MakeSeq(campaign->NextSerial(worker.value), worker.value), now, campaign->spec().id);
  event.user = user;
  event.claim_id = record.id;
  event.coupon_code = coupon.coupon_code;
  event.order_ref = order;
  event.use = change.use;
  std::optional<LogTicket> ticket = Append(worker.value, event);
  if (!ticket) {
    ledger.AbortUse(change);
    return Decide<Claim>(worker, operation, Outcome::kLogUnavailable);
  }
  // Appended until the log has it (AppendedUntilPersisted): it stands from now on.
  ledger.CommitUse(change, redeem, order_fp);
  campaign->Count(worker.value, Book::kRedeemed, redeem ? 1 : -1);
  if (!redeem) campaign->Count(worker.value, Book::kRestored, 1);
  coupon.redeemed = redeem;
  return Decide<Claim>(worker, operation, Outcome::kOk, coupon, *ticket);
}

Decision<Claim> Engine::Impl::ClaimOf(const Campaign& campaign, const UserId& user) const {
  CouponHold state = CouponHold::kNone;
  std::optional<detail::ClaimRecord> record = campaign.ledger().Read(user, &state);
  if (!record) return Answer<Claim>(Outcome::kNotFound);
  return Answer<Claim>(HeldOutcome(state, Outcome::kOk), ClaimView(campaign, user, *record));
}

}  // namespace hotdeal::engine
