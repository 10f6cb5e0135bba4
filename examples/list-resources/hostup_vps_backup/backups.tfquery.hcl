# Terraform 1.14+: find the backups HostUp keeps, to import them.
#
#   terraform query                                      # list them
#   terraform query -generate-config-out=generated.tf    # write import blocks and resources
#   terraform plan                                       # "N to import, 0 to add, ..."

# Every backup of every VPS of the account.
list "hostup_vps_backup" "all" {
  provider = hostup
}

# The backups of one VPS, at most 10.
list "hostup_vps_backup" "db" {
  provider = hostup
  limit    = 10

  config {
    vps_id = "vps_01j9k2db000000000000000001" # db-01
  }
}
