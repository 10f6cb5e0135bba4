# Restore a backup onto a machine right after it is created. `terraform_data` stands in for the
# resource that creates the VPS (this provider does not create VPSes); replace it with yours and
# point target_vps_id at its id.
resource "terraform_data" "fresh_vps" {
  input = "vps_01j9k2edge0000000000000001" # edge-01, the new machine

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.hostup_vps_restore.seed_fresh_vps]
    }
  }
}

# DESTRUCTIVE: runs after terraform_data.fresh_vps is created and overwrites edge-01's disk.
action "hostup_vps_restore" "seed_fresh_vps" {
  config {
    target_vps_id = terraform_data.fresh_vps.output
    source_vps_id = "vps_01j9k2web00000000000000001" # web-01, read only
    backup_id     = "bkp_01j9k2web10000000000000001" # web-01's golden image
  }
}
