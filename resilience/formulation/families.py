"""The names of the model's column and row families, in one place.

Each `define_*` function creates its families under these names; extraction, fixing,
sweeps, toggles and the LP/MPS files refer to them by the same constants, so a family
renamed here is renamed everywhere and a misspelt one is an import error, not a
KeyError at run time.
"""

# columns: first stage
CONTRACT = "contract"  # y_o
FIRM_ORDER = "firm_order"  # x_o
RESERVE = "reserve"  # r_o, offers with a reserve price
STOCK_HELD = "stock_held"  # h_m, materials with a stockpile cost
FIRM_TOTAL = "firm_total"  # X_m = Σ_o x_o
STOCK_ADDED = "stock_added"  # g_{m,t}, materials with a stock price (SPEC §7)
BUILD = "build"  # b_{o,t}, projects (SPEC §7)
# columns: per scenario
LOST = "lost"  # ℓ_{m,k}
BACKUP = "backup"  # e_{o,k}
SPOT = "spot"  # v_{o,k}, offers with spot capacity (SPEC §7)
STOCK_DRAWN = "stock_drawn"  # w_{m,k}
SHORTAGE = "shortage"  # u_{m,k}
VAR_LEVEL = "var_level"  # η
TAIL_EXCESS = "tail_excess"  # z_k
HHI_SQUARE = "hhi_square"  # τ_{m,c} = D_m t_{m,c}
UNIFORM_HHI = "uniform_hhi"  # H, the frontier's floor model only

# rows
ORDER_NEEDS_CONTRACT = "order_needs_contract"
CAPACITY = "capacity"
MIN_ORDER = "min_order"
FIRM_TOTAL_SUM = "firm_total_sum"
STOCK_CHANGE = "stock_change"  # g_t ≥ h_t − h_{t−1}
BUILD_ONCE = "build_once"  # Σ_t b_{o,t} ≤ 1
ONLINE = "online"  # y_{o,τ} ≤ on_{o,τ}
SPOT_ONLINE = "spot_online"  # v ≤ a V on, spot from a project
LOST_SUPPLY = "lost_supply"
BACKUP_LIMIT = "backup_limit"
DRAW_WITHIN_STOCK = "draw_within_stock"
REPLACE_WITHIN_LOSS = "replace_within_loss"  # Σ e + Σ v + w ≤ ℓ
DEMAND_COVER = "demand_cover"
CVAR_TAIL = "cvar_tail"
POLICY_SHARE = "policy_share"
HHI_CHORD = "hhi_chord"
POLICY_HHI = "policy_hhi"
POLICY_FAMILIES = (POLICY_SHARE, POLICY_HHI)
