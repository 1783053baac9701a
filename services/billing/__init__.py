"""Money, through Stripe: sellers' Connect accounts (`connect`), buying paid listings
(`purchases`, `licences`), organization plans (`plans`), sellers' earnings (`earnings`), the
webhook events that settle all of these (`events`), and the one configured client
(`stripe_api`). With no STRIPE_SECRET_KEY none of it is reachable: everything is free.
"""
