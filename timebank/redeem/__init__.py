"""Redeeming hours (兑换), donating them (转赠), community grants (兜底)."""
